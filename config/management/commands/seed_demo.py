"""Seed the demo: users alice, bob and a staff superuser admin; rooms lobby, random (public) and
staff (private, admin a member); a few messages of history. Idempotent.

Under DEBUG the passwords are fixed demo passwords, printed at every start so a newcomer can log
in; without DEBUG each password is random, set when the user is created and printed that once.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from wsapp.models import Membership, Message, Room

DEMO_USERS = [
    # username, staff/superuser
    ("alice", False),
    ("bob", False),
    ("admin", True),
]


DEMO_ROOMS = [
    # slug, title, description, private
    ("lobby", "Lobby", "Say hello. Everyone is welcome here.", False),
    ("random", "Random", "Anything goes.", False),
    ("staff", "Staff", "Operators only.", True),
]

DEMO_HISTORY = {
    "lobby": [
        ("admin", "Welcome to the wsapp demo! Open this room in two browsers to see it live."),
        ("alice", "Hi everyone 👋"),
        ("bob", "Hey alice — try typing, I can see it."),
    ],
    "random": [("bob", "Did you know a reconnecting client resends what you typed while offline?")],
    "staff": [("admin", "The dashboard lives at /dashboard/.")],
}


class Command(BaseCommand):
    help = "Create the demo users, rooms and a little history. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806
        lines = []
        for username, is_admin in DEMO_USERS:
            password = f"{username}-demo" if settings.DEBUG else secrets.token_urlsafe(12)
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": is_admin, "is_superuser": is_admin}
            )
            if created:
                user.set_password(password)
                user.save(update_fields=["password"])
            if created or settings.DEBUG:
                lines.append(f"  {username:<6} {password}{'  (staff)' if is_admin else ''}")
            else:
                lines.append(f"  {username:<6} (exists; password unchanged)")
        self.stdout.write("Demo users (username, password):\n" + "\n".join(lines))
        self.seed_rooms()

    def seed_rooms(self) -> None:
        User = get_user_model()  # noqa: N806
        users = {
            u.username: u for u in User.objects.filter(username__in=[n for n, _ in DEMO_USERS])
        }
        for slug, title, description, private in DEMO_ROOMS:
            room, created = Room.objects.get_or_create(
                slug=slug,
                defaults={
                    "title": title,
                    "description": description,
                    "is_private": private,
                    "created_by": users["admin"],
                },
            )
            if private:
                Membership.objects.get_or_create(
                    room=room, user=users["admin"], defaults={"role": Membership.Role.MODERATOR}
                )
            if created:
                for username, body in DEMO_HISTORY.get(slug, []):
                    Message.objects.create(room=room, user=users[username], body=body)
        self.stdout.write("Demo rooms: " + ", ".join(slug for slug, *_ in DEMO_ROOMS))
