"""The rules of being in a chat room, written once for both chat endpoints.

``RoomConsumer`` (one room per socket: a refusal is a close) and ``TopicConsumer`` (many rooms
over one socket: a refusal is a frame, the socket stays open) must let the same users into the
same rooms, seat them in presence the same way, replay history the same way and store a message
under the same checks; otherwise a room's rules would depend on which endpoint a client chose.
:class:`RoomRules` is that common part, each step taking the room it applies to:

- the hooks a project overrides (``can_join``, ``can_post``, ``clean_message``,
  ``shape_message``) and the checks no override skips (``check_storable``);
- :meth:`~RoomRules.admit`: the room's rules, raising the ``Reject`` that names the refusal
  (4401, 4404, 4410, 4403, 4503), which the caller turns into a close or a frame;
- :meth:`~RoomRules.take_seat`: the presence entry, taken atomically within ``max_members``;
- :meth:`~RoomRules.release`: what the hub held back while history loaded, minus what the
  history already had (hold + floor: nothing lost, nothing twice);
- :meth:`~RoomRules.store_message`: permission, validation, the write before the ack;
- :meth:`~RoomRules.typing_allowed`: the shared per-user typing throttle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.exceptions import (
    InvalidMessage,
    NotAuthenticated,
    PermissionDenied,
    RoomClosed,
    RoomFull,
    RoomNotFound,
)
from wsapp.hub.hub import Hub
from wsapp.models import CLIENT_ID_MAX_LENGTH, Room
from wsapp.rooms.api import aonline
from wsapp.rooms.history import save_message
from wsapp.rooms.presence import Presence

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def echoable(value: object, limit: int = CLIENT_ID_MAX_LENGTH) -> bool:
    """Whether an error frame may carry ``value`` back to the client: a string that could be a
    ``client_id`` (or a topic), not megabytes, not text the socket cannot carry."""
    return isinstance(value, str) and len(value) <= limit and not _SURROGATE.search(value)


def held_message_id(frame: dict[str, Any]) -> object:
    """A held frame's chat message id, if it is a JSON object with one (a raw broadcast is not)."""
    text = frame.get("text")
    if not text or '"id"' not in text:
        return None
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return decoded.get("id") if isinstance(decoded, dict) else None


@dataclass(frozen=True)
class Posted:
    """A stored chat message as broadcast (``message``), and whether this post stored it
    (``False``: a retry of a ``client_id`` already stored; acked, not broadcast again), and the
    ``client_id`` the ack names."""

    message: dict[str, Any]
    created: bool
    client_id: str


class RoomRules:
    """The chat room's rules and hooks; mixed into a ``Consumer`` that sets ``hub`` and
    ``presence`` before it admits anyone."""

    #: The longest message body accepted, in characters.
    max_body_length: ClassVar[int] = 4000
    #: Let users who are not logged in read rooms whose ``Room.allow_anonymous`` is set too
    #: (history, presence, live messages; never post). Off: they are refused with 4401, as a
    #: login-only page's socket should be. Their ``since`` replay is capped at
    #: ``HISTORY_LENGTH``, so an anonymous join costs no more than a plain one.
    anonymous_readers: ClassVar[bool] = False
    #: At most one ``typing`` delivery per user per room per this many seconds, across all of
    #: the user's sockets and processes (the hub's store: Redis with channels_redis). A client
    #: announces typing every few seconds; without this, one keyboard-mashing client costs a
    #: delivery per keystroke per member. ``None``: every ``typing`` is delivered.
    typing_interval: ClassVar[float | None] = 2.0

    ws: WebSocket
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

    # -- the rules, per room ----------------------------------------------------------------

    @property
    def username(self) -> str | None:
        user = self.ws.user
        return user.get_username() if user.is_authenticated else None

    async def admit(self, slug: str) -> Room:
        """The room ``slug`` if this user may enter it.

        Raises:
            NotAuthenticated: anonymous, and the consumer or the room allows no anonymous reader.
            RoomNotFound: no such room.
            RoomClosed: the room is archived.
            PermissionDenied: banned, private and not a member, or ``can_join`` said no.
            RoomFull: an anonymous reader, and ``max_members`` users are online.
        """
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
        if room.max_members is not None and anonymous:
            # An anonymous reader takes no seat, but is not let into a full room either; a
            # user's seat is taken atomically in take_seat().
            if len(await aonline(slug)) >= room.max_members:
                raise RoomFull(f"Room {slug!r} is full ({room.max_members} members).")
        return room

    async def take_seat(self, room: Room) -> list[str]:
        """Take a seat in ``room``'s presence (atomically within ``max_members``); the users
        online, this one included. The socket must have joined the hub's room already.

        Raises:
            RoomFull: ``max_members`` other users are online (4503); the socket has then left
                the hub's room again, before any history was sent.
        """
        slug = room.slug
        if self.username is None:  # anonymous readers are not in presence and take no seat
            return await aonline(slug)
        meta = {"device": self.ws.headers.get("user-agent", "")[:200]}
        cap = room.max_members
        if cap is None:
            return await self.presence.join(slug, self.ws, self.username, meta)
        users = await self.presence.join_within(slug, self.ws, self.username, cap, meta)
        if users is None:
            self.hub.leave(slug, self.ws)
            raise RoomFull(f"Room {slug!r} is full ({cap} members).")
        return users

    def history_limits(self) -> tuple[int, int]:
        """``(HISTORY_LENGTH, replay cap)``: an anonymous replay costs at most a plain join."""
        conf = get_settings()
        length, cap = int(conf["HISTORY_LENGTH"]), int(conf["HISTORY_MAX_REPLAY"])
        if self.username is None:
            cap = min(cap, length)
        return length, cap

    async def release(self, slug: str, history: dict[str, Any]) -> None:
        """Send what the hub held back in ``slug`` while ``history`` loaded, minus what the
        history already had; the floor keeps a lagging broadcast of those ids out later."""
        seen = {m["id"] for m in history["messages"]}
        if seen:
            self.hub.set_floor(self.ws, slug, max(seen))
        while (frame := self.hub.take_held(self.ws, slug)) is not None:
            if seen and held_message_id(frame) in seen:
                continue
            await self.ws.send_frame(frame)

    async def store_message(self, room: Room, content: dict[str, Any]) -> Posted:
        """Check, clean and store one ``chat.message``: stored before it is acknowledged, so an
        acknowledged message is in the database and a resume with ``since`` finds it.

        Raises:
            InvalidMessage: the user may not post (``forbidden``) or the message is malformed.
            DatabaseUnavailable: the database is away (the connection closes with 1013).
        """
        if not await self.can_post(room):
            raise InvalidMessage("You may not post in this room.", error_code="forbidden")
        cleaned = self.clean_message(content)
        self.check_storable(cleaned)  # after the hook, so an override cannot skip it
        stored = await save_message(room, self.ws.user, cleaned["body"], cleaned["client_id"])
        return Posted(self.shape_message(stored.message), stored.created, cleaned["client_id"])

    def client_id_details(self, content: dict[str, Any]) -> dict[str, Any]:
        """The ``client_id`` of a refused ``chat.message`` for its error frame, so a client can
        drop the message from its outbox instead of resending one the server will never take;
        only one that could be a ``client_id`` is echoed."""
        client_id = content.get("client_id")
        if content["type"] == "chat.message" and echoable(client_id):
            return {"client_id": client_id}
        return {}

    async def typing_allowed(self, slug: str, posted: bool, now_us: int) -> bool:
        """Whether this user's ``typing`` in ``slug`` is delivered now (``now_us``: the wall
        clock in microseconds). Right after a post (``posted``) it always is: the others'
        clients cleared the typing line on the message."""
        if self.typing_interval is None or posted:
            return True
        # A token bucket of one token: one delivery, then one per interval (see gcra()).
        interval_us = max(1, round(self.typing_interval * 1_000_000))
        key = f"typing.{slug}.{self.ws.user.pk}"
        return bool(await self.hub.store.spend(key, interval_us, 1, now_us))
