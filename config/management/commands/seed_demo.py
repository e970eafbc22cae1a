"""Seed the demo: users alice, bob and a staff superuser admin. Idempotent.

Under DEBUG the passwords are fixed demo passwords, printed at every start so a newcomer can log
in; without DEBUG each password is random, set when the user is created and printed that once.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = [
    # username, staff/superuser
    ("alice", False),
    ("bob", False),
    ("admin", True),
]


class Command(BaseCommand):
    help = "Create the demo users (and rooms, once the rooms app has them). Safe to run again."

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
