"""The per-process hub: one channel-layer channel that fans room traffic out to local sockets.

Channels' usual pattern gives every socket its own channel and group membership, so a broadcast
costs one layer operation and one JSON encode per member. Here the process's hub channel joins a
room's group when its first local member joins, a broadcast is one ``group_send`` carrying text
encoded once, and each hub writes that same frame to each local member: O(processes), not
O(members). Users' sockets are indexed the same way, so a logout or a ban reaches every process.

When the layer goes away (Redis restarted, say), the hub logs it once (:mod:`wsapp.outage`),
refuses new members with 1013 instead of half-joining them, and polls until the layer answers.
Then it re-adds its groups at once, rather than at the next refresh, and closes its room members
and signed-in sockets with 1012: whatever was broadcast meanwhile never reached them, a client
that reconnects with ``?since=`` gets it from the database, where every acknowledged message
already is, and a user logged out meanwhile is refused at the handshake.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

from wsapp import jsoncodec, metrics
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.exceptions import InvalidStateError, LayerUnavailable, WebSocketDisconnect
from wsapp.hub.groups import room_group, user_group
from wsapp.hub.store import TTLStore, store_for
from wsapp.layers import get_layer
from wsapp.outage import Outage

logger = logging.getLogger("wsapp.hub")

HUB_PREFIX = "wsapp.hub"  # channels_redis adds "."; channel_capacity globs match "wsapp.hub*"
# Refresh group memberships this often, and at most every third of group_expiry: a socket open
# for days must keep receiving after channels_redis would have expired the membership (24 h).
MAX_REFRESH_INTERVAL = 10.0
# While the layer is away, ask again after this long, doubling up to the cap: a restarted Redis
# is noticed within the cap, and a dead one costs a failed connect every few seconds.
RECOVERY_POLL = 0.25
MAX_RECOVERY_POLL = 1.0
RESYNC_REASON = "Live updates were interrupted; reconnect to resume."


class Hub:
    """One process's (one event loop's) door to the channel layer for rooms and users."""

    def __init__(self, layer: BaseChannelLayer, ttl: float) -> None:
        self.layer = layer
        self.store: TTLStore = store_for(layer)
        self.ttl = ttl
        self.channel = ""
        self.rooms: dict[str, set[WebSocket]] = {}
        self.users: dict[str, set[WebSocket]] = {}
        self.groups: set[str] = set()
        self.held: dict[WebSocket, list[dict[str, Any]]] = {}
        # The highest chat message id a joiner's history carried: a broadcast of an id at or
        # below it was committed before that history was read, so the joiner has it already
        # (its broadcast lagged its commit past the hold: ids commit in order per room).
        self.floors: dict[WebSocket, int] = {}
        self.channel_full = 0
        self.delivered = 0
        self.received = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._recovery: asyncio.Task[None] | None = None
        self._stopping = False
        self.outage = Outage("Channel layer", "live delivery paused")
        self._handlers = {
            "wsapp.broadcast": self._on_broadcast,
            "wsapp.close_room": self._on_close_room,
            "wsapp.kick": self._on_kick,
            "wsapp.close_user": self._on_close_user,
        }
        self.refresh_hooks: list[Any] = []
        self.presence: Any = None  # wsapp.rooms.presence.Presence, made on first use
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_EVENTS)

    async def start(self) -> None:
        self.channel = await self.layer.new_channel(HUB_PREFIX)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._read()),
            loop.create_task(self._refresh_forever()),
            loop.create_task(self._report_forever()),
        ]

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._tasks, *([self._recovery] if self._recovery else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for group in list(self.groups):
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group, self.channel)
        self.groups.clear()

    # -- local membership -------------------------------------------------------------------

    async def join(self, room: str, ws: WebSocket, *, hold: bool = False) -> None:
        """Deliver room ``room``'s broadcasts to ``ws`` from now on.

        With ``hold``, frames are kept back until :meth:`release`, so a joiner can send its
        history first and still miss nothing that was broadcast while it loaded.

        Raises:
            LayerUnavailable: the channel layer is away (the caller closes with 1013).
        """
        self._refuse_while_down()
        if hold:
            self.held.setdefault(ws, [])
        self.rooms.setdefault(room, set()).add(ws)
        try:
            await self._ensure_group(room_group(room))
        except LayerUnavailable:
            self.leave(room, ws)
            raise

    def take_held(self, ws: WebSocket) -> str | None:
        """The oldest frame held back for ``ws``; ``None`` once none is left, which also ends
        the hold (frames that arrive while the caller sends the earlier ones queue behind them)."""
        frames = self.held.get(ws)
        if not frames:
            self.held.pop(ws, None)
            return None
        return str(frames.pop(0)["text"])

    def set_floor(self, ws: WebSocket, message_id: int) -> None:
        """``ws`` has every chat message up to ``message_id`` (its history said so)."""
        self.floors[ws] = message_id

    def leave(self, room: str, ws: WebSocket) -> None:
        """Stop delivering; the group is dropped by the next refresh if no member is left."""
        self.held.pop(ws, None)
        self.floors.pop(ws, None)
        members = self.rooms.get(room)
        if members is not None:
            members.discard(ws)
            if not members:
                del self.rooms[room]

    async def attach_user(self, user_key: str, ws: WebSocket) -> None:
        """Index ``ws`` under its user (raises ``LayerUnavailable`` while the layer is away)."""
        self._refuse_while_down()
        self.users.setdefault(user_key, set()).add(ws)
        try:
            await self._ensure_group(user_group(user_key))
        except LayerUnavailable:
            self.detach_user(user_key, ws)
            raise

    def detach_user(self, user_key: str, ws: WebSocket) -> None:
        sockets = self.users.get(user_key)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self.users[user_key]

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
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        """Poll until the layer answers, re-add every group at once, then resync members."""
        delay = RECOVERY_POLL
        while True:
            await asyncio.sleep(delay)
            reset = getattr(self.layer, "reset_connections", None)
            if reset is not None:  # connections to the old Redis are dead: dial fresh ones
                with contextlib.suppress(Exception):
                    await reset()
            try:
                await self.refresh()
                break
            except LayerUnavailable as exc:
                self.outage.failed("recover", exc)
            except Exception:
                logger.exception("Hub %s failed to refresh after an outage", self.channel)
            delay = min(delay * 2, MAX_RECOVERY_POLL)
        # Room members missed broadcasts; signed-in sockets may have missed a logout or a ban
        # (a user-group close): both reconnect, and the handshake checks them again.
        sockets = {ws for members in self.rooms.values() for ws in members}
        sockets.update(ws for user_sockets in self.users.values() for ws in user_sockets)
        self.outage.recovered(f"; resyncing {len(sockets)} local sockets.")
        # RFC 6455 §7.4.1 / IANA: 1012 = service restart; wsapp.js reconnects with ?since=.
        await _close_all(sockets, CloseCode.SERVICE_RESTART, RESYNC_REASON)

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

    async def _on_broadcast(self, message: dict[str, Any]) -> None:
        sockets = self.rooms.get(message["room"])
        if sockets:
            frame = {"type": "websocket.send", "text": message["text"]}
            await self.deliver(sockets, frame, message.get("exclude") or (), message.get("id"))

    async def deliver(
        self,
        sockets: Iterable[WebSocket],
        frame: dict[str, Any],
        exclude: Iterable[str] = (),
        message_id: int | None = None,
    ) -> None:
        """Write one already-encoded frame to each socket; a dead one is skipped, not fatal."""
        skip = set(exclude)
        held = self.held
        floors = self.floors if message_id is not None else None
        for ws in list(sockets):
            if ws.id in skip:
                continue
            if floors and message_id <= floors.get(ws, -1):  # type: ignore[operator]
                continue
            if held and ws in held:
                held[ws].append(frame)
                continue
            try:
                await ws.send_frame(frame)
            except (WebSocketDisconnect, InvalidStateError, OSError):
                continue
            self.delivered += 1

    async def _on_close_room(self, message: dict[str, Any]) -> None:
        sockets = list(self.rooms.get(message["room"], ()))
        if message.get("text") is not None:
            await self.deliver(sockets, {"type": "websocket.send", "text": message["text"]})
        await _close_all(sockets, message["code"], message.get("reason", ""))

    async def _on_kick(self, message: dict[str, Any]) -> None:
        in_room = self.rooms.get(message["room"], set())
        sockets = [ws for ws in self.users.get(message["user"], ()) if ws in in_room]
        await _close_all(sockets, message["code"], message.get("reason", ""))

    async def _on_close_user(self, message: dict[str, Any]) -> None:
        sockets = list(self.users.get(message["user"], ()))
        await _close_all(sockets, message["code"], message.get("reason", ""))

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
        """Re-add live groups before they expire, drop empty ones, run the refresh hooks
        (presence and connection counts renew their TTL entries and prune the dead)."""
        wanted = {room_group(r) for r in self.rooms} | {user_group(u) for u in self.users}
        for group in list(self.groups):
            if group not in wanted:
                self.groups.discard(group)
                await self.layer.group_discard(group, self.channel)
        for group in wanted:
            self.groups.add(group)
            await self.layer.group_add(group, self.channel)
        for hook in self.refresh_hooks:
            await hook(self)

    # -- reporting, for the dashboard ------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """This process's metrics plus the hub's own numbers and recent presence events."""
        snapshot = metrics.snapshot()
        snapshot.update(
            rooms={room: len(sockets) for room, sockets in self.rooms.items()},
            hub_received=self.received,
            hub_delivered=self.delivered,
            channel_full=self.channel_full,
            layer_outages=self.outage.outages,
            layer_down=self.outage.down,
            events=list(self.events),
        )
        return snapshot

    async def report(self) -> None:
        """Publish :meth:`stats` where any process can read it, for a few seconds."""
        await self.store.add(STATS_PROCESSES, metrics.PROCESS, STATS_TTL)
        await self.store.put(stats_key(metrics.PROCESS), jsoncodec.dumps(self.stats()), STATS_TTL)

    async def _report_forever(self) -> None:
        while not self._stopping:
            try:
                if not self.outage.down:
                    await self.report()
            except asyncio.CancelledError:
                raise
            except LayerUnavailable as exc:
                self.layer_failed("report", exc)
            except Exception:
                if self._stopping:
                    return
                logger.exception("Hub %s failed to report its stats", self.channel)
            await asyncio.sleep(STATS_INTERVAL)


STATS_PROCESSES = "stats.processes"
STATS_INTERVAL = 1.0
STATS_TTL = 5.0
RECENT_EVENTS = 50


def stats_key(process: str) -> str:
    return f"stats.{process}"


async def cluster_stats() -> list[dict[str, Any]]:
    """The latest stats of every live process sharing the channel layer, one dict each."""
    from wsapp.hub.store import store_for

    store = store_for(get_layer())
    processes = sorted(await store.members(STATS_PROCESSES))
    values = await store.get_many([stats_key(p) for p in processes])
    return [jsoncodec.loads(v) for v in values if v is not None]


async def _close_all(sockets: Iterable[WebSocket], code: int, reason: str) -> None:
    for ws in list(sockets):
        with contextlib.suppress(WebSocketDisconnect, InvalidStateError, OSError):
            await ws.close(code, reason)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Future[Hub]] = {}


async def get_hub() -> Hub:
    """This event loop's hub, started on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    pending = _starting.get(loop)
    if pending is not None:
        return await asyncio.shield(pending)
    from wsapp.conf import get_settings

    future: asyncio.Future[Hub] = loop.create_future()
    _starting[loop] = future
    try:
        hub = Hub(get_layer(), float(get_settings()["PRESENCE_TTL"]))
        await hub.start()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: the caller below re-raises it
        raise
    finally:
        _starting.pop(loop, None)
    _hubs[loop] = hub
    future.set_result(hub)
    return hub


def current_hub() -> Hub | None:
    """The running loop's hub if it has started (for sync callers that must not start one)."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


async def stop_hub() -> None:
    """Stop this loop's hub (tests, and server shutdown)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


async def publish_to_room(room: str, data: Any, exclude: Iterable[str] = ()) -> None:
    """Encode ``data`` once and hand it to every process with a member in ``room``.

    In a process with a hub, a layer outage is noted and the frame dropped: the hub resyncs its
    members when the layer is back, and what they missed is in the database (a chat message is
    stored and acknowledged before it is broadcast). Without a hub (a management command, an
    admin action) the caller gets ``LayerUnavailable``: nobody would resync.
    """
    message = {
        "type": "wsapp.broadcast",
        "room": room,
        "text": jsoncodec.dumps(data),
        "exclude": list(exclude),
        # A chat message's id lets each hub drop it for a joiner whose history already had it.
        "id": data.get("id")
        if isinstance(data, dict) and data.get("type") == "chat.message"
        else None,
    }
    try:
        await send_to_group(room_group(room), message)
    except LayerUnavailable as exc:
        hub = current_hub()
        if hub is None:
            raise
        hub.layer_failed("group_send", exc)


async def send_to_group(group: str, message: dict[str, Any]) -> None:
    """``group_send`` that counts a full channel instead of raising (direct sends can)."""
    try:
        await get_layer().group_send(group, message)
    except ChannelFull:
        hub = current_hub()
        if hub is not None:
            hub.channel_full += 1
        logger.warning("Channel full: dropped %r to %s", message.get("type"), group)


__all__ = ["Hub", "get_hub", "publish_to_room", "send_to_group", "stop_hub"]
