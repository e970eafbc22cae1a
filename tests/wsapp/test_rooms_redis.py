"""Hub, presence and the churn fix against a real redis-server (started by the test session)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tests.support.timing import scaled
from wsapp import WebSocket
from wsapp.codes import CloseCode
from wsapp.exceptions import LayerUnavailable
from wsapp.hub.hub import get_hub
from wsapp.hub.messages import room_group
from wsapp.hub.store import KEY_PREFIX, RedisStore
from wsapp.layers import redis_connection
from wsapp.redis_layer import RedisChannelLayer
from wsapp.rooms import abroadcast, aonline
from wsapp.rooms.presence import presence_for, presence_key
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession

pytestmark = pytest.mark.redis


async def member(ws: WebSocket, room: str) -> None:
    """Joins the hub and presence as the username given in the query string."""
    await ws.accept()
    hub = await get_hub()
    presence = presence_for(hub)
    await hub.join(room, ws)
    await presence.join(room, ws, ws.query_params["user"])
    await ws.send_json({"type": "joined"})
    try:
        async for _ in ws:
            pass
    finally:
        hub.leave(room, ws)
        await presence.leave(room, ws)


class Members:
    """Opens member sessions through one client; :meth:`close_all` (the fixtures' teardown)
    closes whichever a test left open."""

    def __init__(self, client: AsyncWebSocketClient) -> None:
        self.client = client
        self.opened: list[AsyncWebSocketSession] = []

    async def join(self, room: str, user: str) -> AsyncWebSocketSession:
        session = await self.client.websocket_connect(f"/room/{room}/?user={user}").connect()
        self.opened.append(session)
        # Earlier joiners' presence diffs travel through Redis and may arrive after this socket
        # joined the hub: harmless (diffs are idempotent), skipped here.
        while (frame := await session.receive_json())["type"] == "presence.diff":
            pass
        assert frame == {"type": "joined"}
        return session

    async def close_all(self) -> None:
        for session in self.opened:
            await session.close()


def member_client() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(Router([path("room/<slug:room>/", member)]), timeout=scaled(5))


@pytest_asyncio.fixture
async def members(redis_layer, hub_teardown) -> AsyncIterator[Members]:
    """Members on the session's Redis; at the end their sockets close, then the hub stops, then
    the Redis layer is flushed."""
    joined = Members(member_client())
    yield joined
    await joined.close_all()


async def group_members(group: str) -> list[str]:
    layer = get_channel_layer()
    redis = layer.connection(layer.consistent_hash(group))
    return [m.decode() for m in await redis.zrange(layer._group_key(group), 0, -1)]


async def test_the_layer_is_wsapps_redis_layer_with_a_blocking_pool(members) -> None:
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    redis = redis_connection(layer, "x")
    assert type(redis.connection_pool).__name__ == "BlockingConnectionPool"


async def test_broadcast_over_redis_is_one_group_member_per_process(members) -> None:
    sessions = [await members.join("lobby", f"u{i}") for i in range(20)]
    hub = await get_hub()
    assert await group_members(room_group("lobby")) == [hub.channel]
    await abroadcast("lobby", {"type": "note"})
    for s in sessions:
        while (frame := await s.receive_json())["type"] == "presence.diff":
            pass
        assert frame == {"type": "note"}


async def test_presence_is_per_user_across_connections(members) -> None:
    a1 = await members.join("lobby", "alice")
    a2 = await members.join("lobby", "alice")
    b = await members.join("lobby", "bob")
    assert await aonline("lobby") == ["alice", "bob"]
    await a1.close()
    assert await aonline("lobby") == ["alice", "bob"]
    await a2.close()
    assert await aonline("lobby") == ["bob"]
    await b.close()


async def test_expired_entries_of_a_dead_process_are_pruned_and_announced(
    members, redis_url
) -> None:
    watcher = await members.join("lobby", "watcher")
    # A process that died without cleaning up: its entry exists, with a deadline in the past.
    layer = get_channel_layer()
    store = RedisStore(layer)
    await store.add(presence_key("lobby"), '["ghost","dead-conn",{}]', ttl=0.01)
    await asyncio.sleep(0.05)
    assert await aonline("lobby") == ["watcher"]  # an expired entry never counts
    hub = await get_hub()
    await hub.refresh()
    assert await watcher.receive_json() == {
        "type": "presence.diff",
        "joins": [],
        "leaves": ["ghost"],
    }
    redis = redis_connection(layer, presence_key("lobby"))
    assert await redis.zcard(KEY_PREFIX + presence_key("lobby")) == 1


async def test_300_sockets_closing_at_once_leave_no_stale_state_and_no_errors(
    members, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    sessions = [await members.join("churn", f"user{i}") for i in range(300)]
    assert len(await aonline("churn")) == 300
    await asyncio.gather(*(s.close() for s in sessions))
    hub = await get_hub()
    await hub.refresh()
    assert await aonline("churn") == []
    assert await group_members(room_group("churn")) == []
    layer = get_channel_layer()
    redis = redis_connection(layer, presence_key("churn"))
    assert await redis.zcard(KEY_PREFIX + presence_key("churn")) == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture
def own_redis_layer(redis_server, settings) -> Iterator[None]:
    """``CHANNEL_LAYERS`` on a Redis of this test's own, which it kills and restarts; flushed
    on teardown if that Redis still runs."""
    from channels.layers import channel_layers

    from tests.conftest import redis_layer_settings

    settings.CHANNEL_LAYERS = {"default": redis_layer_settings(redis_server.url)}
    channel_layers.backends = {}
    yield
    if redis_server.running:
        async_to_sync(get_channel_layer().flush)()
    channel_layers.backends = {}


@pytest_asyncio.fixture
async def own_redis_members(own_redis_layer, hub_teardown) -> AsyncIterator[Members]:
    """The ``members`` fixture on that own Redis (the hub stops before the layer is flushed)."""
    joined = Members(member_client())
    yield joined
    await joined.close_all()


async def test_an_outage_is_logged_once_and_the_hub_rejoins_its_groups_when_redis_is_back(
    own_redis_members, redis_server, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsapp")
    watcher = await own_redis_members.join("lobby", "watcher")
    hub = await get_hub()
    redis_server.kill()
    for i in range(20):  # broadcasts in a process with a hub: noted, not raised, not logged
        await abroadcast("lobby", {"type": "note", "n": i})
    assert hub.outage.down
    with pytest.raises(LayerUnavailable):
        await hub.join("other", next(iter(hub.rooms["lobby"])))
    redis_server.start()  # empty: the hub's group membership is gone with the old Redis
    assert await watcher.wait_closed(scaled(10)) == (
        CloseCode.SERVICE_RESTART,
        "Live updates were interrupted; reconnect to resume.",
    )
    # Re-added by the recovery itself, long before the next periodic refresh (10 s).
    assert await group_members(room_group("lobby")) == [hub.channel]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("Channel layer unavailable (")
    assert warnings[1].startswith("Channel layer back after ")
    assert warnings[1].endswith("resyncing 1 local sockets.")
