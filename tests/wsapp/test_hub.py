"""The per-process hub: room fan-out, user index, group refresh — in-process, in-memory layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer

from tests.support.timing import scaled, wait_until
from tests.wsapp.helpers import StandInSocket
from wsapp import WebSocket
from wsapp.codes import CloseCode
from wsapp.hub.hub import Hub, get_hub
from wsapp.hub.messages import room_group
from wsapp.hub.runtime import PerLoop, cancel_and_wait
from wsapp.rooms import abroadcast, aclose
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession

# Every test's hub stops when it ends, pass or fail (after the sockets it serves close).
pytestmark = pytest.mark.usefixtures("hub_teardown")


async def member(ws: WebSocket, room: str) -> None:
    await ws.accept()
    hub = await get_hub()
    await hub.join(room, ws)
    await ws.send_json({"type": "joined"})
    try:
        async for _ in ws:
            pass
    finally:
        hub.leave(room, ws)


@pytest_asyncio.fixture
async def join() -> AsyncIterator[Callable[[str], Awaitable[AsyncWebSocketSession]]]:
    """``await join(room)`` → a session that joined ``room``; each is closed when the test
    ends (before the hub stops)."""
    client = AsyncWebSocketClient(Router([path("room/<slug:room>/", member)]))
    opened: list[AsyncWebSocketSession] = []

    async def connect(room: str) -> AsyncWebSocketSession:
        session = await client.websocket_connect(f"/room/{room}/").connect()
        opened.append(session)
        assert await session.receive_json() == {"type": "joined"}
        return session

    yield connect
    for session in opened:
        await session.close()


async def test_broadcast_reaches_every_local_member_once(join) -> None:
    a, b = await join("lobby"), await join("lobby")
    other = await join("random")
    await abroadcast("lobby", {"type": "note", "n": 1})
    assert await a.receive_json() == {"type": "note", "n": 1}
    assert await b.receive_json() == {"type": "note", "n": 1}
    assert await other.receive_nothing()
    assert await a.receive_nothing()


async def test_broadcast_is_one_group_send_and_the_hub_channel_is_the_only_member(join) -> None:
    sessions = [await join("lobby") for _ in range(5)]
    hub = await get_hub()
    layer = get_channel_layer()
    assert set(layer.groups[room_group("lobby")]) == {hub.channel}
    await abroadcast("lobby", {"type": "x"})
    for s in sessions:
        assert await s.receive_json() == {"type": "x"}
    assert hub.received == 1
    assert hub.delivered == 5


async def test_exclude_skips_the_sender(join) -> None:
    a, b = await join("lobby"), await join("lobby")
    hub = await get_hub()
    excluded = next(iter(hub.rooms["lobby"]))
    await abroadcast("lobby", {"type": "x"}, exclude=[excluded])
    received = [await s.receive_nothing(0.2) for s in (a, b)]
    assert sorted(received) == [False, True]


async def test_close_room_sends_notice_then_closes_with_4410(join) -> None:
    a = await join("lobby")
    await aclose("lobby", reason="archived")
    assert await a.receive_json() == {"type": "room.closed", "reason": "archived"}
    assert await a.wait_closed() == (CloseCode.ROOM_CLOSED, "archived")


async def test_refresh_drops_groups_without_members_and_readds_live_ones(join) -> None:
    a = await join("lobby")
    b = await join("random")
    hub = await get_hub()
    layer = get_channel_layer()
    await b.close()
    await asyncio.sleep(0)
    layer.groups[room_group("lobby")].clear()  # as if the layer had expired the membership
    await hub.refresh()
    assert room_group("random") not in hub.groups
    assert hub.channel in layer.groups[room_group("lobby")]
    await abroadcast("lobby", {"type": "still-here"})
    assert await a.receive_json() == {"type": "still-here"}


async def test_short_group_expiry_is_survived_by_periodic_refresh(join, settings) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"group_expiry": 1},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends = {}
    a = await join("lobby")
    hub = await get_hub()
    assert hub.refresh_interval() <= 1 / 3
    await asyncio.sleep(1.6)  # past group_expiry: without refresh the hub would be dropped
    await abroadcast("lobby", {"type": "after-expiry"})
    assert await a.receive_json() == {"type": "after-expiry"}


# -- one owner of "a closed socket leaves everything" -------------------------------------------


async def test_forget_drops_a_socket_from_every_room_user_hold_and_floor(started_hub) -> None:
    hub = await started_hub()
    ws, other = StandInSocket("a"), StandInSocket("b")
    await hub.join("lobby", ws, hold=True)
    await hub.join("random", ws)
    await hub.join("lobby", other)
    await hub.attach_user("42", ws)
    hub.set_floor(ws, "lobby", 7)
    forgotten: list[StandInSocket] = []
    hub.on_forget(forgotten.append)
    hub.on_forget(forgotten.append)  # once is enough
    hub.forget(ws)
    hub.forget(ws)  # a second close is harmless
    delivery = hub.delivery
    assert (hub.rooms, hub.users, delivery.held, delivery.floors) == (
        {"lobby": {other}},
        {},
        {},
        {},
    )
    assert forgotten == [ws, ws]


async def test_forget_tells_presence_which_leaves_and_announces_in_the_background() -> None:
    from wsapp.rooms.presence import presence_for

    hub = await get_hub()
    presence = presence_for(hub)
    ws = StandInSocket("a")
    await hub.join("lobby", ws)
    await presence.join("lobby", ws, "alice")
    hub.forget(ws)
    await wait_until(lambda: presence.events[-1]["kind"] == "leave", 2.0, "the leave announced")
    assert presence.rooms_of(ws) == []
    assert await presence.users("lobby") == []
    assert [e["kind"] for e in presence.events] == ["join", "leave"]


async def test_on_refresh_runs_each_callback_once_per_refresh(started_hub) -> None:
    hub = await started_hub()
    calls: list[Hub] = []

    async def renew(refreshed: Hub) -> None:
        calls.append(refreshed)

    hub.on_refresh(renew)
    hub.on_refresh(renew)
    await hub.refresh()
    assert calls == [hub]


async def test_services_run_beside_the_hub_and_stop_with_it() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def service(hub: Hub) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    hubs = PerLoop(lambda services: _started(services))
    hubs.add_service(service)
    hubs.add_service(service)
    hub = await hubs.get()
    assert await hubs.get() is hub and hubs.current() is hub
    await asyncio.wait_for(started.wait(), 1)
    await hubs.stop()
    assert cancelled.is_set() and hubs.current() is None


async def _started(services) -> Hub:
    assert len(services) == 1
    hub = Hub(get_channel_layer(), 5.0, services)
    await hub.start()
    return hub


# -- stopping: a dependency that loses a cancellation does not hang the shutdown ---------------


async def test_cancel_and_wait_cancels_again_a_task_that_swallowed_the_first_cancel() -> None:
    swallowed = 0

    async def stubborn() -> None:
        """As channels_redis's receive does when redis-py turns a cancel into a read timeout:
        the CancelledError is lost and the next blocking read starts."""
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1
                current = asyncio.current_task()
                assert current is not None
                current.uncancel()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task]), scaled(5))
    assert task.cancelled()
    assert swallowed == 1


async def test_cancel_and_wait_raises_what_a_task_ended_with() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait([task])
