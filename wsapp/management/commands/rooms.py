"""``manage.py rooms``: operate live rooms from a shell, cron or deploy script.

    manage.py rooms online lobby
    manage.py rooms broadcast lobby '{"type": "notice", "text": "deploy at 5"}'
    manage.py rooms close lobby --reason "Moved to #general"
    manage.py rooms kick lobby alice --reason "Be nice"
    manage.py rooms close-user alice

Thin on purpose: each subcommand is one call of :mod:`wsapp.rooms`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wsapp import rooms
from wsapp.codes import CloseCode


class Command(BaseCommand):
    help = "Broadcast to, inspect, close and kick from live rooms on every process."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("online", help="list the users online in a room").add_argument("room")
        send = sub.add_parser("broadcast", help="send a JSON object to a room's live members")
        send.add_argument("room")
        send.add_argument("json")
        close = sub.add_parser("close", help="send room.closed, then close every member (4410)")
        close.add_argument("room")
        close.add_argument("--reason", default="")
        kick = sub.add_parser("kick", help="close a user's sockets in a room (4403)")
        kick.add_argument("room")
        kick.add_argument("username")
        kick.add_argument("--reason", default="")
        user = sub.add_parser("close-user", help="close every socket of a user (4401)")
        user.add_argument("username")
        user.add_argument("--reason", default="")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "online":
            self.stdout.write("\n".join(rooms.online(options["room"])))
        elif action == "broadcast":
            try:
                data = json.loads(options["json"])
            except ValueError as exc:
                raise CommandError(f"Not JSON: {exc}") from exc
            rooms.broadcast(options["room"], data)
        elif action == "close":
            rooms.close(options["room"], CloseCode.ROOM_CLOSED, options["reason"])
        elif action == "kick":
            rooms.kick(
                options["room"],
                self._user(options["username"]),
                CloseCode.FORBIDDEN,
                options["reason"],
            )
        elif action == "close-user":
            rooms.close_user(
                self._user(options["username"]), CloseCode.NOT_AUTHENTICATED, options["reason"]
            )

    def _user(self, username: str) -> Any:
        try:
            return get_user_model()._default_manager.get_by_natural_key(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {username!r}.") from exc
