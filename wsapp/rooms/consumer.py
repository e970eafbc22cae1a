"""``RoomConsumer``: the chat protocol of ``/ws/chat/<slug>/``, ready to subclass.

On connect it refuses anonymous users (4401) unless both the consumer and the room allow
anonymous readers, looks the room up and applies the room's rules (4404 no such room, 4410
archived, 4403 private or banned), joins the hub holding live frames back, takes a seat in
presence (4503 when ``max_members`` others are online, decided atomically in the shared store),
sends ``history`` and ``presence.state``, then releases what arrived meanwhile — so a joiner
misses nothing and sees nothing twice. Projects override the hooks: ``can_join``, ``can_post``,
``clean_message``, ``shape_message``. The rules themselves are :mod:`wsapp.rooms.admission`'s,
shared with the multiplexed endpoint (:mod:`wsapp.rooms.topics`).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from wsapp.consumers import Consumer, event
from wsapp.hub.hub import get_hub
from wsapp.models import CLIENT_ID_MAX_LENGTH, Room  # noqa: F401 (imported from here by tests)
from wsapp.rooms.admission import RoomRules
from wsapp.rooms.api import abroadcast
from wsapp.rooms.history import history_frame
from wsapp.rooms.presence import presence_for


class RoomConsumer(RoomRules, Consumer):
    """A chat room: history, presence, typing, messages stored before they are acknowledged."""

    #: The route parameter that holds the room's slug.
    room_param: ClassVar[str] = "room"

    #: This socket posted since its last ``typing``: the others' clients cleared its typing
    #: line on the message, so the next ``typing`` is delivered at once (at most one per post).
    _posted = False

    room: Room

    # -- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> None:
        slug = self.ws.path_params[self.room_param]
        self.room = await self.admit(slug)
        await self.ws.accept()
        self.hub = await get_hub()
        self.presence = presence_for(self.hub)
        await self.hub.join(slug, self.ws, hold=True)
        users = await self.take_seat(self.room)
        history = await history_frame(self.room, self._since(), *self.history_limits())
        await self.send_json(history)
        await self.send_json({"type": "presence.state", "users": users})
        await self.release(slug, history)

    def _since(self) -> int | None:
        raw = self.ws.query_params.get("since")
        try:
            return max(0, int(raw)) if raw is not None else None
        except ValueError:
            return None

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
        posted = await self.store_message(self.room, content)
        message = posted.message
        await self.send_json(
            {"type": "chat.ack", "client_id": posted.client_id, "id": message["id"]}
        )
        if posted.created:
            await abroadcast(self.room.slug, message, exclude=[self.ws])

    def error_details(self, content: dict[str, Any]) -> dict[str, Any]:
        # A refused chat message's error names its client_id (see client_id_details()).
        return self.client_id_details(content)

    async def dispatch(self, content: dict[str, Any]) -> None:
        await super().dispatch(content)
        if content["type"] == "chat.message":
            self._posted = True

    @event("typing")
    async def typing(self, content: dict[str, Any]) -> None:
        """Tell the others this user is typing, throttled by :attr:`typing_interval`."""
        if self.username is None:
            return
        posted, self._posted = self._posted, False
        if not await self.typing_allowed(self.room.slug, posted, int(time.time() * 1_000_000)):
            return
        await abroadcast(
            self.room.slug, {"type": "typing", "user": self.username}, exclude=[self.ws]
        )
