"""``TopicConsumer``: many chat rooms over one socket (docs/topics.md is its wire protocol).

Phoenix's topics, Centrifugo's channels, Socket.IO's rooms: a client subscribes to any number of
rooms on one connection, and every frame in and out names its ``topic`` (a room slug). Each
topic follows the chat endpoint's rules exactly, because both endpoints apply
:class:`~wsapp.rooms.admission.RoomRules`: the same users are let into the same rooms, seated in
the same presence (so ``rooms.online()`` and ``RoomConsumer``'s members see a topic subscriber),
replayed the same history and stored under the same checks. What differs is the answer to a
refusal: the chat endpoint closes with the code, here the socket stays open and the subscribe is
answered with a ``subscribe.refused`` frame carrying that code. The server ending a room for a
socket (archived, deleted, a ban, a kick) ends that topic with ``unsubscribed`` and its code.

A subscribe is the chat endpoint's join, per topic: admit, join the hub holding the room's live
frames back, take a seat, send ``subscribed``, ``history`` and ``presence.state``, then release
what arrived meanwhile minus what the history had (the hub's hold and floor are per socket *and*
room, so one topic's join holds no other topic's traffic). Frames are handled one at a time, so
a topic is never half-subscribed when the next frame arrives; only the hub's end of a room can
interleave, and a subscribe in progress finishes before it is told.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.consumers import Consumer, event
from wsapp.dbhealth import database_call
from wsapp.exceptions import InvalidMessage, LayerUnavailable, NotAuthenticated, Reject
from wsapp.hub.hub import get_hub
from wsapp.models import SLUG_MAX_LENGTH, Room
from wsapp.rooms.admission import RoomRules, echoable
from wsapp.rooms.api import abroadcast
from wsapp.rooms.history import history_frame
from wsapp.rooms.presence import presence_for

__all__ = ["REFUSALS", "TopicConsumer", "is_topic"]

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+\Z")
#: The largest message id (a 64-bit primary key): a bigger ``since`` is no message id, and no
#: database driver would take it.
_MAX_MESSAGE_ID = 2**63 - 1
#: A refused subscribe's ``code`` → its ``error`` name (the code is the one the chat endpoint
#: closes with for the same reason).
REFUSALS: dict[int, str] = {
    CloseCode.BAD_REQUEST: "bad_request",
    CloseCode.NOT_AUTHENTICATED: "not_authenticated",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.ROOM_NOT_FOUND: "not_found",
    CloseCode.ROOM_CLOSED: "room_closed",
    CloseCode.RATE_LIMITED: "too_many_topics",
    CloseCode.ROOM_FULL: "room_full",
    CloseCode.TRY_AGAIN_LATER: "try_again_later",
}


def is_topic(value: object) -> bool:
    """Whether ``value`` can name a room: a slug, as ``Room.slug`` stores it."""
    return isinstance(value, str) and len(value) <= SLUG_MAX_LENGTH and bool(_SLUG.match(value))


@dataclass
class _Subscription:
    """One subscription of this socket: its room once admitted, and the per-room flags."""

    room: Room | None = None
    #: ``subscribed`` and its history were sent: the hub's end of the room is announced at once.
    live: bool = False
    #: Posted since its last ``typing`` (the next one is delivered at once, as on the chat endpoint).
    posted: bool = False
    #: The hub ended the room while the subscribe was still in progress: ``(code, reason)``.
    ended: tuple[int, str] | None = None


class TopicConsumer(RoomRules, Consumer):
    """Any number of chat rooms over one socket; hooks as ``RoomConsumer``'s, each taking the room.

    Anonymous users connect only when :attr:`anonymous_readers` is set; they may then subscribe
    to rooms with ``allow_anonymous`` (read-only, not in presence), other rooms are refused with
    4401 per topic.
    """

    def __init__(self, ws: WebSocket) -> None:
        super().__init__(ws)
        #: This socket's subscriptions by room slug (a subscribe in progress included).
        self.topics: dict[str, _Subscription] = {}
        # The topic of the frame being answered: every error frame answering it names it.
        self._answering: str | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> None:
        if self.username is None and not self.anonymous_readers:
            raise NotAuthenticated("Log in to subscribe to rooms.")
        await self.ws.accept()
        self.hub = await get_hub()
        self.presence = presence_for(self.hub)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "hub", None) is None:
            return
        for slug in list(self.topics):
            await self._leave(slug)

    async def topic_ended(self, room: str, code: int, reason: str) -> None:
        """The hub ended ``room`` for this socket (the room's ``room.closed``, if any, was sent
        before): the topic is over, the socket stays open. A subscribe in progress is told when
        it has sent its history, so the client sees ``subscribed`` before ``unsubscribed``."""
        topic = self.topics.get(room)
        if topic is None:
            return
        if not topic.live:
            topic.ended = (code, reason)
            return
        await self._end(room, code, reason)

    # -- subscribing --------------------------------------------------------------------------

    @event("subscribe")
    async def subscribe(self, content: dict[str, Any]) -> None:
        """Subscribe to ``topic`` (``since``: resume after that message id), or say why not."""
        slug, since = content.get("topic"), content.get("since")
        if not is_topic(slug):
            await self._refuse(slug, CloseCode.BAD_REQUEST, '"topic" must be a room slug.')
            await self.count_invalid()
            return
        assert isinstance(slug, str)
        if since is not None and (type(since) is not int or not 0 <= since <= _MAX_MESSAGE_ID):
            message = '"since" must be a message id (an integer ≥ 0).'
            await self._refuse(slug, CloseCode.BAD_REQUEST, message)
            await self.count_invalid()
            return
        topic = self.topics.get(slug)
        if topic is not None:
            await self._resubscribe(slug, topic, since)
            return
        cap = int(get_settings()["MAX_TOPICS_PER_CONNECTION"])
        if len(self.topics) >= cap:
            message = f"At most {cap} topics per connection."
            await self._refuse(slug, CloseCode.RATE_LIMITED, message)
            return
        topic = self.topics[slug] = _Subscription()
        try:
            with database_call("look up a room"):
                room = await self.admit(slug)
            await self.hub.join(slug, self.ws, hold=True, listener=self)
            users = await self.take_seat(room)
            history = await history_frame(room, since, *self.history_limits())
        except Reject as exc:  # a room rule, a full room, the layer or the database away
            await self._leave(slug)
            await self._refuse(slug, exc.code, exc.reason)
            return
        topic.room = room
        await self._send_join(slug, history, users)
        topic.live = True
        if topic.ended is not None:
            await self._end(slug, *topic.ended)

    async def _resubscribe(self, slug: str, topic: _Subscription, since: int | None) -> None:
        """A subscribe to a topic this socket has: its history again (from ``since``) and the
        presence state, held and floored like the first; the seat is not taken twice."""
        assert topic.room is not None
        try:
            await self.hub.join(slug, self.ws, hold=True, listener=self)
            history = await history_frame(topic.room, since, *self.history_limits())
            users = await self.presence.users(slug)
        except Reject as exc:  # the layer or the database away: the topic ends here
            await self._leave(slug)
            await self._refuse(slug, exc.code, exc.reason)
            return
        await self._send_join(slug, history, users)

    async def _send_join(self, slug: str, history: dict[str, Any], users: list[str]) -> None:
        await self.send_json({"type": "subscribed", "topic": slug})
        await self.send_json({**history, "topic": slug})
        await self.send_json({"type": "presence.state", "topic": slug, "users": users})
        await self.release(slug, history)

    async def _refuse(self, topic: object, code: int, message: str) -> None:
        frame: dict[str, Any] = {"type": "subscribe.refused"}
        if echoable(topic, 200):
            frame["topic"] = topic
        frame.update(code=code, error=REFUSALS.get(code, "refused"), message=message)
        await self.send_json(frame)

    @event("unsubscribe")
    async def unsubscribe(self, content: dict[str, Any]) -> None:
        """Leave ``topic`` (and its presence); answered with ``unsubscribed`` 1000 whether or
        not it was subscribed, so a client's unsubscribe never races the server's end."""
        slug = self._topic(content)
        if slug in self.topics:
            await self._leave(slug)
        await self.send_json(
            {"type": "unsubscribed", "topic": slug, "code": CloseCode.NORMAL_CLOSURE, "reason": ""}
        )

    async def _leave(self, slug: str) -> None:
        """Forget topic ``slug``: out of the hub's room and of its presence (the others get the
        ``presence.diff`` when this was the user's last socket there)."""
        self.topics.pop(slug, None)
        self.hub.leave(slug, self.ws)
        try:
            await self.presence.leave(slug, self.ws)
        except LayerUnavailable as exc:  # the entry expires within one TTL without a refresh
            self.hub.layer_failed("presence leave", exc)

    async def _end(self, slug: str, code: int, reason: str) -> None:
        await self._leave(slug)
        await self.send_json(
            {"type": "unsubscribed", "topic": slug, "code": code, "reason": reason}
        )

    # -- events on a topic --------------------------------------------------------------------

    def _topic(self, content: dict[str, Any]) -> str:
        slug = content.get("topic")
        if not is_topic(slug):
            raise InvalidMessage('"topic" must be a room slug.')
        assert isinstance(slug, str)
        return slug

    def _subscribed(self, content: dict[str, Any]) -> tuple[str, _Subscription, Room]:
        slug = self._topic(content)
        topic = self.topics.get(slug)
        if topic is None or topic.room is None:
            raise InvalidMessage(f"Not subscribed to {slug!r}.", error_code="not_subscribed")
        return slug, topic, topic.room

    @event("chat.message")
    async def chat_message(self, content: dict[str, Any]) -> None:
        """Store, acknowledge to the sender, then broadcast to the topic's others: in that order,
        as on the chat endpoint, so an acknowledged message is found by a resume with ``since``."""
        slug, topic, room = self._subscribed(content)
        topic.posted = True
        posted = await self.store_message(room, content)
        message = posted.message
        ack = {"type": "chat.ack", "topic": slug, "client_id": posted.client_id}
        await self.send_json({**ack, "id": message["id"]})
        if posted.created:
            await abroadcast(slug, message, exclude=[self.ws])

    @event("typing")
    async def typing(self, content: dict[str, Any]) -> None:
        """Tell the topic's others this user is typing, throttled by :attr:`typing_interval`
        per user per room (shared with the user's chat-endpoint sockets)."""
        slug, topic, _ = self._subscribed(content)
        if self.username is None:
            return
        posted, topic.posted = topic.posted, False
        if not await self.typing_allowed(slug, posted, int(time.time() * 1_000_000)):
            return
        await abroadcast(slug, {"type": "typing", "user": self.username}, exclude=[self.ws])

    # -- errors name their topic ----------------------------------------------------------------

    async def dispatch(self, content: dict[str, Any]) -> None:
        topic = content.get("topic")
        self._answering = topic if is_topic(topic) else None
        try:
            await super().dispatch(content)
        finally:
            self._answering = None

    def error_details(self, content: dict[str, Any]) -> dict[str, Any]:
        # A refused chat message's error names its client_id (see client_id_details()).
        return self.client_id_details(content)

    async def send_error(self, code: str, message: str, **details: Any) -> None:
        """The ``error`` frame, with the ``topic`` of the frame it answers when that named one."""
        if self._answering is not None and "topic" not in details:
            details = {"topic": self._answering, **details}
        await super().send_error(code, message, **details)
