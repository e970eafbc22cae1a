"""``RoomConsumer``: DESIGN.md's chat protocol for ``/ws/chat/<slug>/``, ready to subclass.

On connect it looks the room up and applies the room's rules (4404 no such room, 4410 archived,
4403 private or banned, 4429 full), joins the hub holding live frames back, sends ``history``
and ``presence.state``, then releases what arrived meanwhile — so a joiner misses nothing and
sees nothing twice. Projects override the hooks: ``can_join``, ``can_post``, ``clean_message``,
``shape_message``.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.consumers import Consumer, event
from wsapp.exceptions import InvalidMessage, PermissionDenied, Reject, RoomClosed, RoomNotFound
from wsapp.models import Room
from wsapp.rooms.api import abroadcast, aonline
from wsapp.rooms.history import history_frame, store
from wsapp.rooms.hub import Hub, get_hub
from wsapp.rooms.presence import Presence, presence_for

CLIENT_ID_MAX_LENGTH = 64
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _echoable(client_id: object) -> bool:
    """Whether an error frame may carry ``client_id`` back: a string that could be one."""
    return (
        isinstance(client_id, str)
        and len(client_id) <= CLIENT_ID_MAX_LENGTH
        and not _SURROGATE.search(client_id)
    )


class RoomConsumer(Consumer):
    """A chat room: history, presence, typing, messages stored before they are acknowledged."""

    #: The route parameter that holds the room's slug.
    room_param: ClassVar[str] = "room"
    #: The longest message body accepted, in characters.
    max_body_length: ClassVar[int] = 4000

    room: Room
    hub: Hub
    presence: Presence

    # -- hooks ------------------------------------------------------------------------------

    async def can_join(self, room: Room) -> bool:
        """Whether the connecting user may enter ``room`` beyond the room's own rules."""
        return True

    async def can_post(self, room: Room) -> bool:
        """Whether the user may post; by default anyone logged in."""
        return bool(self.ws.user.is_authenticated)

    def clean_message(self, content: dict[str, Any]) -> dict[str, str]:
        """Validate a ``chat.message`` and return ``{"body", "client_id"}``.

        Raises:
            InvalidMessage: the message is malformed (answered with an ``error`` frame).
        """
        body = content.get("body")
        if not isinstance(body, str) or not body.strip():
            raise InvalidMessage('"body" must be a non-empty string.')
        if len(body) > self.max_body_length:
            raise InvalidMessage(
                f'"body" is {len(body)} characters; the limit is {self.max_body_length}.',
                error_code="too_large",
            )
        client_id = content.get("client_id", "")
        if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX_LENGTH:
            raise InvalidMessage(
                f'"client_id" must be a string of at most {CLIENT_ID_MAX_LENGTH} characters.'
            )
        return {"body": body.strip(), "client_id": client_id}

    @staticmethod
    def check_storable(cleaned: dict[str, str]) -> None:
        """Refuse text the database cannot store, whatever ``clean_message`` let through.

        A lone surrogate is not Unicode, so no UTF-8 encoder takes it; PostgreSQL's text type
        cannot hold NUL. Refused on every database, so a message SQLite would take is not lost
        in production.

        Raises:
            InvalidMessage: a field holds a lone surrogate or a NUL character.
        """
        for field, value in cleaned.items():
            if "\x00" in value:
                raise InvalidMessage(f'"{field}" must not contain NUL characters.')
            if not value.isascii() and _SURROGATE.search(value):
                raise InvalidMessage(
                    f'"{field}" holds a lone surrogate, which is not Unicode text.'
                )

    def shape_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """The ``chat.message`` frame as broadcast; override to add fields."""
        return message

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def username(self) -> str | None:
        user = self.ws.user
        return user.get_username() if user.is_authenticated else None

    async def connect(self) -> None:
        slug = self.ws.path_params[self.room_param]
        self.room = await self._admit(slug)
        await self.ws.accept()
        self.hub = await get_hub()
        self.presence = presence_for(self.hub)
        await self.hub.join(slug, self.ws, hold=True)
        history = await history_frame(self.room, self._since(), *self._history_limits())
        await self.send_json(history)
        users = await aonline(slug)
        if self.username is not None:
            meta = {"device": self.ws.headers.get("user-agent", "")[:200]}
            users = await self.presence.join(slug, self.ws, self.username, meta)
        await self.send_json({"type": "presence.state", "users": users})
        await self._release(history)

    async def _admit(self, slug: str) -> Room:
        room = await Room.objects.filter(slug=slug).afirst()
        if room is None:
            raise RoomNotFound(f"No room {slug!r}.")
        if room.is_archived:
            raise RoomClosed(f"Room {slug!r} is archived.")
        user = self.ws.user
        if await room.ais_banned(user):
            raise PermissionDenied(f"You are banned from {slug!r}.")
        if room.is_private and not await room.ais_member(user):
            raise PermissionDenied(f"Room {slug!r} is private.")
        if not await self.can_join(room):
            raise PermissionDenied(f"You may not join {slug!r}.")
        if room.max_members is not None:
            online = await aonline(slug)
            if len(online) >= room.max_members and self.username not in online:
                raise Reject(
                    f"Room {slug!r} is full ({room.max_members} members).",
                    code=CloseCode.RATE_LIMITED,
                )
        return room

    async def _release(self, history: dict[str, Any]) -> None:
        """Send what the hub held back during the join, minus what history already had."""
        seen = {m["id"] for m in history["messages"]}
        while (text := self.hub.take_held(self.ws)) is not None:
            if seen and '"id"' in text and json.loads(text).get("id") in seen:
                continue
            await self.ws.send_text(text)

    def _since(self) -> int | None:
        raw = self.ws.query_params.get("since")
        try:
            return max(0, int(raw)) if raw is not None else None
        except ValueError:
            return None

    def _history_limits(self) -> tuple[int, int]:
        conf = get_settings()
        return int(conf["HISTORY_LENGTH"]), int(conf["HISTORY_MAX_REPLAY"])

    async def disconnect(self, code: int) -> None:
        hub = getattr(self, "hub", None)
        if hub is None:
            return
        slug = self.room.slug
        hub.leave(slug, self.ws)
        await self.presence.leave(slug, self.ws)

    # -- events -----------------------------------------------------------------------------

    @event("chat.message")
    async def chat_message(self, content: dict[str, Any]) -> None:
        """Store, acknowledge to the sender, then broadcast to the others (DESIGN.md order)."""
        try:
            if not await self.can_post(self.room):
                raise InvalidMessage("You may not post in this room.", error_code="forbidden")
            cleaned = self.clean_message(content)
            self.check_storable(cleaned)  # after the hook, so an override cannot skip it
        except InvalidMessage as exc:
            # The error names the client_id, so a client can drop the message from its outbox
            # instead of resending a message the server will never take; only one that could be
            # a client_id is echoed (not megabytes, not text the socket cannot carry).
            client_id = content.get("client_id")
            await self.send_json(
                {
                    "type": "error",
                    "code": exc.error_code,
                    "message": exc.message,
                    **({"client_id": client_id} if _echoable(client_id) else {}),
                }
            )
            await self.count_invalid()
            return
        stored = await store(self.room, self.ws.user, cleaned["body"], cleaned["client_id"])
        message = self.shape_message(stored.message)
        await self.send_json(
            {"type": "chat.ack", "client_id": cleaned["client_id"], "id": message["id"]}
        )
        if stored.created:
            await abroadcast(self.room.slug, message, exclude=[self.ws])

    @event("typing")
    async def typing(self, content: dict[str, Any]) -> None:
        if self.username is not None:
            await abroadcast(
                self.room.slug, {"type": "typing", "user": self.username}, exclude=[self.ws]
            )
