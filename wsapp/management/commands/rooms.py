"""``manage.py rooms``: operate live rooms from a shell, cron or deploy script.

    manage.py rooms online lobby
    manage.py rooms broadcast lobby '{"type": "notice", "text": "deploy at 5"}'
    manage.py rooms close lobby --reason "Moved to #general"
    manage.py rooms kick lobby alice --reason "Be nice"
    manage.py rooms close-user alice
    manage.py rooms archive lobby --reason "Moved to #general"
    manage.py rooms ban lobby alice
    manage.py rooms remove vault alice
    manage.py rooms make-private vault
    manage.py rooms announce lobby "Deploy at 5"

Thin on purpose: each subcommand is one call of :mod:`wsapp.rooms` (live only: ``online`` to
``close-user``) or of :mod:`wsapp.rooms.moderation` (saved, then pushed: ``archive`` onwards).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wsapp import rooms
from wsapp.codes import CloseCode
from wsapp.models import Membership, Room
from wsapp.rooms import moderation


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
        archive = sub.add_parser("archive", help="archive a room and disconnect its members (4410)")
        archive.add_argument("room")
        archive.add_argument("--reason", default=str(moderation.ARCHIVED_REASON))
        ban = sub.add_parser("ban", help="ban a member and close their sockets in the room (4403)")
        ban.add_argument("room")
        ban.add_argument("username")
        remove = sub.add_parser("remove", help="remove a member (kicked from a private room, 4403)")
        remove.add_argument("room")
        remove.add_argument("username")
        private = sub.add_parser(
            "make-private", help="make a room private; kick non-members (4403)"
        )
        private.add_argument("room")
        announce = sub.add_parser("announce", help="store a system message and broadcast it")
        announce.add_argument("room")
        announce.add_argument("body")

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
        else:
            self._moderate(action, options)

    def _moderate(self, action: str, options: dict[str, Any]) -> None:
        room = self._room(options["room"])
        if action == "archive":
            moderation.archive([room], options["reason"], on_error=self._failed)
        elif action == "ban":
            moderation.ban([self._membership(room, options["username"])], on_error=self._failed)
        elif action == "remove":
            moderation.remove([self._membership(room, options["username"])], on_error=self._failed)
        elif action == "make-private":
            moderation.make_private(room, on_error=self._failed)
        elif action == "announce":
            if not moderation.announce([room], options["body"], on_error=self._failed):
                raise CommandError(f"Room {room.slug!r} is archived: nothing announced.")

    def _failed(self, exc: Exception) -> None:
        raise CommandError(f"Saved, but open connections were not updated: {exc}") from exc

    def _room(self, slug: str) -> Room:
        try:
            return Room.objects.get(slug=slug)
        except Room.DoesNotExist as exc:
            raise CommandError(f"No room {slug!r}.") from exc

    def _membership(self, room: Room, username: str) -> Membership:
        try:
            return room.memberships.select_related("room", "user").get(user=self._user(username))
        except Membership.DoesNotExist as exc:
            raise CommandError(f"{username!r} is not a member of {room.slug!r}.") from exc

    def _user(self, username: str) -> Any:
        try:
            return get_user_model()._default_manager.get_by_natural_key(username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {username!r}.") from exc
