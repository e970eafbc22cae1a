"""``RoomConsumer``: the chat protocol of ``/ws/chat/<slug>/``, ready to subclass.

On connect it refuses anonymous users (4401) unless both the consumer and the room allow
anonymous readers, looks the room up and applies the room's rules (4404 no such room, 4410
archived, 4403 private or banned), joins the hub holding live frames back, takes a seat in
presence (4503 when ``max_members`` others are online, decided atomically in the shared store),
sends ``history`` and ``presence.state``, then releases what arrived meanwhile — so a joiner
misses nothing and sees nothing twice. Projects override the hooks: ``can_join``, ``can_post``,
``clean_message``, ``shape_message``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar

from wsapp.conf import get_settings
from wsapp.consumers import Consumer, event
from wsapp.exceptions import (
    InvalidMessage,
    NotAuthenticated,
    PermissionDenied,
    RoomClosed,
    RoomFull,
    RoomNotFound,
)
from wsapp.hub.hub import Hub, get_hub
from wsapp.models import CLIENT_ID_MAX_LENGTH, Room
from wsapp.rooms.api import abroadcast, aonline
from wsapp.rooms.history import history_frame, save_message
from wsapp.rooms.presence import Presence, presence_for

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _echoable(client_id: object) -> bool:
    """Whether an error frame may carry ``client_id`` back: a string that could be one."""
    return (
        isinstance(client_id, str)
        and len(client_id) <= CLIENT_ID_MAX_LENGTH
        and not _SURROGATE.search(client_id)
    )


def _message_id(frame: dict[str, Any]) -> object:
    """A held frame's chat message id, if it is a JSON object with one (a raw broadcast is not)."""
    text = frame.get("text")
    if not text or '"id"' not in text:
        return None
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded.get("id") if isinstance(decoded, dict) else None


class RoomConsumer(Consumer):
    """A chat room: history, presence, typing, messages stored before they are acknowledged."""

    #: The route parameter that holds the room's slug.
    room_param: ClassVar[str] = "room"
    #: The longest message body accepted, in characters.
    max_body_length: ClassVar[int] = 4000
    #: Let users who are not logged in read rooms whose ``Room.allow_anonymous`` is set too
    #: (history, presence, live messages; never post). Off: they are refused with 4401, as a
    #: login-only page's socket should be. Their ``?since=`` replay is capped at
    #: ``HISTORY_LENGTH``, so an anonymous handshake costs no more than a plain join.
    anonymous_readers: ClassVar[bool] = False
    #: At most one ``typing`` delivery per user per room per this many seconds, across all of
    #: the user's sockets and processes (the hub's store: Redis with channels_redis). A client
    #: announces typing every few seconds; without this, one keyboard-mashing client costs a
    #: delivery per keystroke per member. ``None``: every ``typing`` is delivered.
    typing_interval: ClassVar[float | None] = 2.0

    #: This socket posted since its last ``typing``: the others' clients cleared its typing
    #: line on the message, so the next ``typing`` is delivered at once (at most one per post).
    _posted = False

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
        users = await self._enter(slug)
        history = await history_frame(self.room, self._since(), *self._history_limits())
        await self.send_json(history)
        await self.send_json({"type": "presence.state", "users": users})
        await self._release(history)

    async def _enter(self, slug: str) -> list[str]:
        """Take a seat in presence (atomically within ``max_members``); the online users.

        Raises:
            RoomFull: ``max_members`` other users are online (4503), before any history is sent.
        """
        if self.username is None:  # anonymous readers are not in presence and take no seat
            return await aonline(slug)
        meta = {"device": self.ws.headers.get("user-agent", "")[:200]}
        cap = self.room.max_members
        if cap is None:
            return await self.presence.join(slug, self.ws, self.username, meta)
        users = await self.presence.join_within(slug, self.ws, self.username, cap, meta)
        if users is None:
            self.hub.leave(slug, self.ws)
            raise RoomFull(f"Room {slug!r} is full ({cap} members).")
        return users

    async def _admit(self, slug: str) -> Room:
        anonymous = self.username is None
        if anonymous and not self.anonymous_readers:  # refused before any database query
            raise NotAuthenticated(f"Log in to read {slug!r}.")
        room = await Room.objects.filter(slug=slug).afirst()
        if room is None:
            raise RoomNotFound(f"No room {slug!r}.")
        if room.is_archived:
            raise RoomClosed(f"Room {slug!r} is archived.")
        if anonymous and not room.allow_anonymous:
            raise NotAuthenticated(f"Log in to read {slug!r}.")
        user = self.ws.user
        if await room.ais_banned(user):
            raise PermissionDenied(f"You are banned from {slug!r}.")
        if room.is_private and not await room.ais_member(user):
            raise PermissionDenied(f"Room {slug!r} is private.")
        if not await self.can_join(room):
            raise PermissionDenied(f"You may not join {slug!r}.")
        if room.max_members is not None and self.username is None:
            # An anonymous reader takes no seat, but is not let into a full room either; a
            # user's seat is taken atomically in _enter().
            if len(await aonline(slug)) >= room.max_members:
                raise RoomFull(f"Room {slug!r} is full ({room.max_members} members).")
        return room

    async def _release(self, history: dict[str, Any]) -> None:
        """Send what the hub held back during the join, minus what history already had."""
        slug = self.room.slug
        seen = {m["id"] for m in history["messages"]}
        if seen:
            self.hub.set_floor(self.ws, slug, max(seen))
        while (frame := self.hub.take_held(self.ws, slug)) is not None:
            if seen and _message_id(frame) in seen:
                continue
            await self.ws.send_frame(frame)

    def _since(self) -> int | None:
        raw = self.ws.query_params.get("since")
        try:
            return max(0, int(raw)) if raw is not None else None
        except ValueError:
            return None

    def _history_limits(self) -> tuple[int, int]:
        conf = get_settings()
        length, cap = int(conf["HISTORY_LENGTH"]), int(conf["HISTORY_MAX_REPLAY"])
        if self.username is None:  # an anonymous replay costs at most a plain join
            cap = min(cap, length)
        return length, cap

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
        """Store, acknowledge to the sender, then broadcast to the others: in that order, so an
        acknowledged message is already in the database and a resume with ``?since=`` finds it."""
        if not await self.can_post(self.room):
            raise InvalidMessage("You may not post in this room.", error_code="forbidden")
        cleaned = self.clean_message(content)
        self.check_storable(cleaned)  # after the hook, so an override cannot skip it
        stored = await save_message(self.room, self.ws.user, cleaned["body"], cleaned["client_id"])
        message = self.shape_message(stored.message)
        await self.send_json(
            {"type": "chat.ack", "client_id": cleaned["client_id"], "id": message["id"]}
        )
        if stored.created:
            await abroadcast(self.room.slug, message, exclude=[self.ws])

    def error_details(self, content: dict[str, Any]) -> dict[str, Any]:
        # A refused chat message's error names its client_id, so a client can drop the message
        # from its outbox instead of resending one the server will never take; only one that
        # could be a client_id is echoed (not megabytes, not text the socket cannot carry).
        client_id = content.get("client_id")
        if content["type"] == "chat.message" and _echoable(client_id):
            return {"client_id": client_id}
        return {}

    async def dispatch(self, content: dict[str, Any]) -> None:
        await super().dispatch(content)
        if content["type"] == "chat.message":
            self._posted = True

    @event("typing")
    async def typing(self, content: dict[str, Any]) -> None:
        """Tell the others this user is typing, throttled by :attr:`typing_interval`."""
        if self.username is None or not await self._typing_allowed():
            return
        await abroadcast(
            self.room.slug, {"type": "typing", "user": self.username}, exclude=[self.ws]
        )

    async def _typing_allowed(self) -> bool:
        if self.typing_interval is None or self._posted:
            self._posted = False
            return True
        # A token bucket of one token: one delivery, then one per interval (see gcra()).
        interval_us = max(1, round(self.typing_interval * 1_000_000))
        key = f"typing.{self.room.slug}.{self.ws.user.pk}"
        return bool(await self.hub.store.spend(key, interval_us, 1, int(time.time() * 1_000_000)))
