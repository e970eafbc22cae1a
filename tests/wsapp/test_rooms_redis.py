"""Hub, presence and the churn fix against a real redis-server (started by the test session)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
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
from wsapp.testing import AsyncWebSocketClient

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


@pytest.fixture
def client(redis_layer, hub_teardown) -> AsyncWebSocketClient:
    """The hub stops when the test ends, pass or fail, before the Redis layer is flushed."""
    return AsyncWebSocketClient(Router([path("room/<slug:room>/", member)]), timeout=scaled(5))


async def join(client: AsyncWebSocketClient, room: str, user: str):
    session = await client.websocket_connect(f"/room/{room}/?user={user}").connect()
    # Earlier joiners' presence diffs travel through Redis and may arrive after this socket
    # joined the hub: harmless (diffs are idempotent), skipped here.
    while (frame := await session.receive_json())["type"] == "presence.diff":
        pass
    assert frame == {"type": "joined"}
    return session


async def group_members(group: str) -> list[str]:
    layer = get_channel_layer()
    redis = layer.connection(layer.consistent_hash(group))
    return [m.decode() for m in await redis.zrange(layer._group_key(group), 0, -1)]


async def test_the_layer_is_wsapps_redis_layer_with_a_blocking_pool(client) -> None:
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    redis = redis_connection(layer, "x")
    assert type(redis.connection_pool).__name__ == "BlockingConnectionPool"


async def test_broadcast_over_redis_is_one_group_member_per_process(client) -> None:
    sessions = [await join(client, "lobby", f"u{i}") for i in range(20)]
    hub = await get_hub()
    assert await group_members(room_group("lobby")) == [hub.channel]
    await abroadcast("lobby", {"type": "note"})
    for s in sessions:
        while (frame := await s.receive_json())["type"] == "presence.diff":
            pass
        assert frame == {"type": "note"}
    for s in sessions:
        await s.close()


async def test_presence_is_per_user_across_connections(client) -> None:
    a1 = await join(client, "lobby", "alice")
    a2 = await join(client, "lobby", "alice")
    b = await join(client, "lobby", "bob")
    assert await aonline("lobby") == ["alice", "bob"]
    await a1.close()
    assert await aonline("lobby") == ["alice", "bob"]
    await a2.close()
    assert await aonline("lobby") == ["bob"]
    await b.close()


async def test_expired_entries_of_a_dead_process_are_pruned_and_announced(
    client, redis_url
) -> None:
    watcher = await join(client, "lobby", "watcher")
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
    await watcher.close()


async def test_300_sockets_closing_at_once_leave_no_stale_state_and_no_errors(
    client, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    sessions = [await join(client, "churn", f"user{i}") for i in range(300)]
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


@pytest.fixture
def own_redis_client(own_redis_layer, hub_teardown) -> AsyncWebSocketClient:
    """The ``client`` fixture on that own Redis (the hub stops before the layer is flushed)."""
    return AsyncWebSocketClient(Router([path("room/<slug:room>/", member)]), timeout=scaled(5))


async def test_an_outage_is_logged_once_and_the_hub_rejoins_its_groups_when_redis_is_back(
    own_redis_client, redis_server, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsapp")
    watcher = await join(own_redis_client, "lobby", "watcher")
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
