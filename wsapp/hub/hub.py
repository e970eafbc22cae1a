"""The per-process hub: one channel-layer channel that fans room traffic out to local sockets.

Channels' usual pattern gives every socket its own channel and group membership, so a broadcast
costs one layer operation and one JSON encode per member. Here the process's hub channel joins a
room's group when its first local member joins, a broadcast is one ``group_send`` carrying text
encoded once, and each hub writes that same frame to each local member: O(processes), not
O(members). Users' sockets are indexed the same way, so a logout or a ban reaches every process.

When the layer goes away (Redis restarted, say), the hub logs it once (:mod:`wsapp.outage`),
refuses new members with 1013 instead of half-joining them, and recovers
(:mod:`wsapp.hub.recovery`) once the layer answers.

The hub knows groups, sockets and layer messages (:mod:`wsapp.hub.messages`), nothing of rooms
as a product: presence and the dashboard's stats plug in through :meth:`Hub.on_refresh`,
:meth:`Hub.on_forget` and services run beside it (:data:`HubService`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.exceptions import LayerUnavailable
from wsapp.hub import messages
from wsapp.hub.delivery import Delivery, TopicListener, discard
from wsapp.hub.messages import room_group, user_group
from wsapp.hub.recovery import close_all, recover
from wsapp.hub.runtime import PerLoop, cancel_and_wait
from wsapp.hub.store import TTLStore, store_for
from wsapp.layers import get_layer
from wsapp.outage import Outage

logger = logging.getLogger("wsapp.hub")

HUB_PREFIX = "wsapp.hub"  # channels_redis adds "."; channel_capacity globs match "wsapp.hub*"
# Refresh group memberships this often, and at most every third of group_expiry: a socket open
# for days must keep receiving after channels_redis would have expired the membership (24 h).
MAX_REFRESH_INTERVAL = 10.0

#: A coroutine run beside a hub for as long as it runs (cancelled when it stops), e.g. the
#: dashboard's stats reporter. Given to ``hubs.add_service`` by whoever starts the process.
HubService = Callable[["Hub"], Coroutine[Any, Any, None]]
#: Called on each refresh (after the groups are re-added) to renew TTL entries of one's own.
RefreshCallback = Callable[["Hub"], Awaitable[None]]
#: Called, synchronously, when a closed socket is forgotten (:meth:`Hub.forget`).
ForgetCallback = Callable[[WebSocket], None]


class RoomPresence(Protocol):
    """Room presence as the hub holds it (``Hub.presence``). The hub never calls it: a closed
    socket leaves presence through :meth:`Hub.on_forget`; the dashboard reads its events."""

    events: collections.deque[dict[str, Any]]


class Hub:
    """One process's (one event loop's) door to the channel layer for rooms and users.

    Args:
        layer: the channel layer; the hub reads one channel of it and joins groups with it.
        ttl: seconds a shared entry (presence, connection counts) lives without a refresh.
        services: coroutines run beside the hub until it stops (see :data:`HubService`).
    """

    def __init__(
        self, layer: BaseChannelLayer, ttl: float, services: Iterable[HubService] = ()
    ) -> None:
        self.layer = layer
        self.store: TTLStore = store_for(layer)
        self.ttl = ttl
        self.channel = ""
        #: Rooms → local sockets, holds, floors, topic sockets, the writes (one table).
        self.delivery = Delivery()
        self.users: dict[str, set[WebSocket]] = {}
        self.groups: set[str] = set()
        # The reverse of users: forgetting a socket costs its own memberships only.
        self._users_of: dict[WebSocket, set[str]] = {}
        self.channel_full = 0
        self.received = 0
        self._services = tuple(services)
        self._tasks: list[asyncio.Task[None]] = []
        self._cleanups: set[asyncio.Task[None]] = set()
        self._recovery: asyncio.Task[None] | None = None
        self._stopping = False
        self.outage = Outage("Channel layer", "live delivery paused")
        self._handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            messages.BROADCAST: self._on_broadcast,
            messages.CLOSE_ROOM: self._on_close_room,
            messages.KICK: self._on_kick,
            messages.CLOSE_USER: self._on_close_user,
            messages.TO_USER: self._on_to_user,
        }
        self._on_refresh: list[RefreshCallback] = []
        self._on_forget: list[ForgetCallback] = []
        #: Room presence, set by ``wsapp.rooms.presence`` on first use (the dashboard reads it).
        self.presence: RoomPresence | None = None

    async def start(self) -> None:
        self.channel = await self.layer.new_channel(HUB_PREFIX)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read()),
            loop.create_task(self._refresh_forever()),
            *(loop.create_task(service(self)) for service in self._services),
        ]

    async def stop(self) -> None:
        self._stopping = True
        await cancel_and_wait([*self._tasks, *([self._recovery] if self._recovery else [])])
        for group in list(self.groups):
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group, self.channel)
        self.groups.clear()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` has begun (a service's loop ends quietly then)."""
        return self._stopping

    # -- extension points -------------------------------------------------------------------

    def on_refresh(self, callback: RefreshCallback) -> None:
        """Await ``callback(hub)`` on every refresh, after the groups (idempotent)."""
        if callback not in self._on_refresh:
            self._on_refresh.append(callback)

    def on_forget(self, callback: ForgetCallback) -> None:
        """Call ``callback(ws)`` whenever :meth:`forget` drops a closed socket (idempotent)."""
        if callback not in self._on_forget:
            self._on_forget.append(callback)

    def cleanup(self, coroutine: Coroutine[Any, Any, Any], action: str = "cleanup") -> None:
        """Run store cleanup a synchronous close cannot await; with the layer away it is noted
        as an outage and skipped: the entries it would have removed expire within one TTL."""
        task = asyncio.get_running_loop().create_task(self._quietly(coroutine, action))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def _quietly(self, coroutine: Coroutine[Any, Any, Any], action: str) -> None:
        try:
            await coroutine
        except LayerUnavailable as exc:
            self.layer_failed(action, exc)

    # -- local membership -------------------------------------------------------------------

    @property
    def rooms(self) -> dict[str, set[WebSocket]]:
        """Room slug → the local sockets in it (plain and multiplexed)."""
        return self.delivery.rooms

    @property
    def delivered(self) -> int:
        return self.delivery.delivered

    async def join(
        self,
        room: str,
        ws: WebSocket,
        *,
        hold: bool = False,
        listener: TopicListener | None = None,
    ) -> None:
        """Deliver room ``room``'s broadcasts to ``ws`` from now on.

        With ``hold``, frames are kept back until :meth:`take_held` has returned them all, so a
        joiner can send its history first and still miss nothing broadcast while it loaded.
        With ``listener``, ``ws`` is multiplexed: it gets each frame in its topic form and the
        server's end of the room is the listener's to announce (see :mod:`~wsapp.hub.delivery`).

        Raises:
            LayerUnavailable: the channel layer is away (the caller closes with 1013).
        """
        self._refuse_while_down()
        self.delivery.add(room, ws, hold=hold, listener=listener)
        try:
            await self._ensure_group(room_group(room))
        except LayerUnavailable:
            self.leave(room, ws)
            raise

    def take_held(self, ws: WebSocket, room: str) -> dict[str, Any] | None:
        """The oldest frame held back for ``ws`` in ``room`` (see :meth:`Delivery.take_held`)."""
        return self.delivery.take_held(ws, room)

    def set_floor(self, ws: WebSocket, room: str, message_id: int) -> None:
        """``ws`` has every chat message of ``room`` up to ``message_id`` (its history said so)."""
        self.delivery.set_floor(ws, room, message_id)

    def leave(self, room: str, ws: WebSocket) -> None:
        """Stop delivering; the group is dropped by the next refresh if no member is left."""
        self.delivery.remove(room, ws)

    async def attach_user(self, user_key: str, ws: WebSocket) -> None:
        """Index ``ws`` under its user (raises ``LayerUnavailable`` while the layer is away)."""
        self._refuse_while_down()
        self.users.setdefault(user_key, set()).add(ws)
        self._users_of.setdefault(ws, set()).add(user_key)
        try:
            await self._ensure_group(user_group(user_key))
        except LayerUnavailable:
            self.detach_user(user_key, ws)
            raise

    def detach_user(self, user_key: str, ws: WebSocket) -> None:
        discard(self.users, user_key, ws)
        discard(self._users_of, ws, user_key)

    def forget(self, ws: WebSocket) -> None:
        """``ws`` has closed: drop it from every room, user, hold and floor, then tell the
        :meth:`on_forget` callbacks (presence removes its entries). The one place this is done,
        so nothing keeps a closed socket; safe to call twice."""
        for room in self.delivery.rooms_of(ws):
            self.leave(room, ws)
        for key in list(self._users_of.get(ws, ())):
            self.detach_user(key, ws)
        for callback in self._on_forget:
            callback(ws)

    async def _ensure_group(self, group: str) -> None:
        if group not in self.groups:
            self.groups.add(group)
            try:
                await self.layer.group_add(group, self.channel)
            except LayerUnavailable as exc:
                self.groups.discard(group)
                self.layer_failed("group_add", exc)
                raise

    def _refuse_while_down(self) -> None:
        if self.outage.down:
            raise LayerUnavailable("the hub is waiting for the channel layer to answer")

    # -- outages ----------------------------------------------------------------------------

    def layer_failed(self, action: str, exc: BaseException) -> None:
        """Note a failed layer call; the first of an outage logs it and starts the recovery."""
        if self.outage.failed(action, exc) and not self._stopping:
            self._recovery = asyncio.get_running_loop().create_task(recover(self))

    # -- receiving from the layer -----------------------------------------------------------

    async def _read(self) -> None:
        while not self._stopping:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # channels_redis's receive can turn a cancellation into another error.
                if self._stopping:
                    return
                self.layer_failed("receive", exc)
                await self.outage.up.wait()
                continue
            self.received += 1
            handler = self._handlers.get(message.get("type", ""))
            if handler is None:
                logger.warning("Hub ignored a message of unknown type %r", message.get("type"))
                continue
            try:
                await handler(message)
            except Exception:
                logger.exception("Hub failed to handle %r", message.get("type"))

    async def _on_broadcast(self, message: messages.Broadcast) -> None:
        await self.delivery.send(
            message["room"],
            _frame(message),
            raw=bool(message.get("raw")),
            exclude=message.get("exclude") or (),
            message_id=message.get("id"),
        )

    async def _on_close_room(self, message: messages.CloseRoom) -> None:
        room = message["room"]
        sockets = list(self.rooms.get(room, ()))
        if message.get("text") is not None:
            await self.delivery.send(room, {"type": "websocket.send", "text": message["text"]})
        await self.delivery.end(room, sockets, message["code"], message.get("reason", ""))

    async def _on_kick(self, message: messages.Kick) -> None:
        in_room = self.rooms.get(message["room"], set())
        sockets = [ws for ws in self.users.get(message["user"], ()) if ws in in_room]
        await self.delivery.end(message["room"], sockets, message["code"], message["reason"])

    async def _on_close_user(self, message: messages.CloseUser) -> None:
        sockets = list(self.users.get(message["user"], ()))
        await close_all(sockets, message["code"], message.get("reason", ""))

    async def _on_to_user(self, message: messages.ToUser) -> None:
        frame = {"type": "websocket.send", "text": message["text"]}
        for ws in list(self.users.get(message["user"], ())):
            await self.delivery.write(ws, frame)

    # -- keeping memberships alive ----------------------------------------------------------

    def refresh_interval(self) -> float:
        expiry = float(getattr(self.layer, "group_expiry", 86400))
        return max(0.05, min(self.ttl / 3, expiry / 3, MAX_REFRESH_INTERVAL))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval())
            if self.outage.down:
                continue  # the recovery refreshes as soon as the layer answers
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except LayerUnavailable as exc:
                self.layer_failed("refresh", exc)
            except Exception:
                logger.exception("Hub %s failed to refresh its memberships", self.channel)

    async def refresh(self) -> None:
        """Re-add live groups before they expire, drop empty ones, run the
        :meth:`on_refresh` callbacks (presence and connection counts renew their TTL entries
        and prune the dead)."""
        wanted = {room_group(r) for r in self.rooms} | {user_group(u) for u in self.users}
        for group in list(self.groups):
            if group not in wanted:
                self.groups.discard(group)
                await self.layer.group_discard(group, self.channel)
        for group in wanted:
            self.groups.add(group)
            await self.layer.group_add(group, self.channel)
        for callback in self._on_refresh:
            await callback(self)


def _frame(message: messages.Broadcast) -> dict[str, Any]:
    """The ASGI send event of a message's frame: its ``bytes`` if it has them, else its text."""
    data = message.get("bytes")
    if data is not None:
        return {"type": "websocket.send", "bytes": data}
    return {"type": "websocket.send", "text": message["text"]}


async def _start(services: tuple[HubService, ...]) -> Hub:
    hub = Hub(get_layer(), float(get_settings()["PRESENCE_TTL"]), services)
    await hub.start()
    return hub


#: The process's hubs, one per event loop.
hubs: PerLoop[Hub, HubService] = PerLoop(_start)


async def get_hub() -> Hub:
    """This event loop's hub, started on first use."""
    return await hubs.get()


def current_hub() -> Hub | None:
    """The running loop's hub if it has started (for sync callers that must not start one)."""
    return hubs.current()


async def stop_hub() -> None:
    """Stop this loop's hub (tests, and server shutdown)."""
    await hubs.stop()


__all__ = ["Hub", "HubService", "current_hub", "get_hub", "hubs", "stop_hub"]
