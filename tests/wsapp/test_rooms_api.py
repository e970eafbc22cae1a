"""The rooms API: its names (listed once in the package, the old sync name kept as an alias),
and run-time membership — ``join``/``leave``/``joined`` with presence, ``active()``."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from tests.support.timing import wait_until
from wsapp import WebSocket, rooms
from wsapp.exceptions import InvalidStateError
from wsapp.hub.active import ACTIVE_KEY
from wsapp.hub.hub import current_hub, get_hub
from wsapp.rooms import api
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession


def test_every_listed_name_resolves_to_the_api() -> None:
    for name in rooms.__all__:
        home = importlib.import_module(rooms._ELSEWHERE[name]) if name in rooms._ELSEWHERE else api
        assert getattr(rooms, name) is getattr(home, name)
    assert set(rooms.__all__) <= set(dir(rooms))
    assert set(rooms._ELSEWHERE) <= set(rooms.__all__)


def test_online_connections_is_the_sync_twin_of_aonline_connections() -> None:
    assert rooms.online_connections("lobby") == []


def test_online_connections_sync_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match=r"online_connections_sync\(\) is deprecated"):
        assert rooms.online_connections_sync("lobby") == []
    assert "online_connections_sync" not in rooms.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        rooms.nope  # noqa: B018


# -- run-time membership: join / leave, presence, active rooms ----------------------------------
#
# In-process on the in-memory layer; across two `serve` processes on Redis in
# tests/e2e/test_rooms_cluster.py.

ALICE, BOB = User(pk=41, username="alice"), User(pk=42, username="bob")


async def member(ws: WebSocket) -> None:
    """Joins the rooms of ``?rooms=a,b`` (``?presence=0``: without presence); then each text
    frame ``leave:<room>`` or ``join:<room>`` is done and answered, a bad name with an error."""
    await ws.accept()
    presence = ws.query_params.get("presence") != "0"
    for room in filter(None, ws.query_params.get("rooms", "").split(",")):
        await rooms.join(ws, room, presence=presence)
    await ws.send_json({"type": "joined"})
    async for text in ws.iter_text():
        action, _, room = text.partition(":")
        try:
            await (rooms.leave if action == "leave" else rooms.join)(ws, room)
        except ValueError as exc:
            await ws.send_json({"type": "error", "message": str(exc)})
            continue
        await ws.send_json({"type": action, "room": room})


async def joins_before_accept(ws: WebSocket) -> None:
    try:
        await rooms.join(ws, "lobby")
    except InvalidStateError:
        await ws.accept()
        await ws.send_json({"type": "refused"})


async def inside_joined(ws: WebSocket) -> None:
    """``rooms.joined()`` for as long as the client sends nothing; then out, and says so."""
    await ws.accept()
    async with rooms.joined(ws, "lobby"):
        await ws.send_json({"type": "joined"})
        await ws.receive_text()
    await ws.send_json({"type": "out"})
    await ws.receive_text()


Connect = Callable[..., Awaitable[AsyncWebSocketSession]]


@pytest_asyncio.fixture
async def connect(hub_teardown: None) -> AsyncIterator[Connect]:
    client = AsyncWebSocketClient(
        Router(
            [
                path("member/", member),
                path("block/", inside_joined),
            ]
        )
    )
    opened: list[AsyncWebSocketSession] = []

    async def open_session(url: str, **options: Any) -> AsyncWebSocketSession:
        session = await client.websocket_connect(url, **options).connect()
        opened.append(session)
        return session

    async def joined(url: str, **options: Any) -> AsyncWebSocketSession:
        session = await open_session(url, **options)
        assert await session.receive_json() == {"type": "joined"}
        return session

    yield joined
    for session in opened:
        await session.close()


async def test_a_socket_joined_at_run_time_gets_each_rooms_broadcasts(connect: Connect) -> None:
    ws = await connect("/member/?rooms=lobby,random&presence=0")
    await rooms.abroadcast("lobby", {"n": 1})
    await rooms.abroadcast("random", {"n": 2})
    assert [await ws.receive_json(), await ws.receive_json()] == [{"n": 1}, {"n": 2}]
    await ws.send_text("leave:lobby")
    assert await ws.receive_json() == {"type": "leave", "room": "lobby"}
    await rooms.abroadcast("lobby", {"n": 3})
    await rooms.abroadcast("random", {"n": 4})
    assert await ws.receive_json() == {"n": 4}
    assert await ws.receive_nothing()
    assert (await get_hub()).rooms.keys() == {"random"}


async def test_a_signed_in_join_is_in_presence_and_announced_to_the_room(connect: Connect) -> None:
    bob = await connect("/member/?rooms=lobby", user=BOB)
    alice = await connect("/member/?rooms=lobby", user=ALICE)
    assert await bob.receive_json() == {"type": "presence.diff", "joins": ["alice"], "leaves": []}
    assert await rooms.aonline("lobby") == ["alice", "bob"]
    connections = await rooms.aonline_connections("lobby")
    assert sorted(c["user"] for c in connections) == ["alice", "bob"]
    await alice.send_text("leave:lobby")
    assert await alice.receive_json() == {"type": "leave", "room": "lobby"}
    assert await bob.receive_json() == {"type": "presence.diff", "joins": [], "leaves": ["alice"]}
    assert await rooms.aonline("lobby") == ["bob"]


async def test_joining_twice_is_one_membership(connect: Connect) -> None:
    bob = await connect("/member/?rooms=lobby", user=BOB)
    alice = await connect("/member/?rooms=lobby", user=ALICE)
    assert (await bob.receive_json())["joins"] == ["alice"]
    await alice.send_text("join:lobby")
    assert await alice.receive_json() == {"type": "join", "room": "lobby"}
    assert await bob.receive_nothing()  # no second presence.diff
    assert len(await rooms.aonline_connections("lobby")) == 2
    await rooms.abroadcast("lobby", {"once": True})
    assert await alice.receive_json() == {"once": True}
    assert await alice.receive_nothing()


async def test_a_close_leaves_every_room_presence_and_the_active_list(connect: Connect) -> None:
    bob = await connect("/member/?rooms=lobby", user=BOB)
    alice = await connect("/member/?rooms=lobby,random", user=ALICE)
    assert (await bob.receive_json())["joins"] == ["alice"]
    assert await rooms.aactive() == ["lobby", "random"]
    await alice.close()
    assert await bob.receive_json() == {"type": "presence.diff", "joins": [], "leaves": ["alice"]}
    await wait_until(lambda: "random" not in (hub_now().rooms), 2, "the hub to forget alice")
    await wait_until(_active_is(["lobby"]), 2, "random to leave the active rooms")
    assert await rooms.aonline("random") == []
    assert await rooms.aonline("lobby") == ["bob"]


async def test_an_anonymous_or_presence_free_join_takes_no_presence(connect: Connect) -> None:
    watcher = await connect("/member/?rooms=lobby", user=BOB)
    await connect("/member/?rooms=lobby")
    await connect("/member/?rooms=lobby&presence=0", user=ALICE)
    assert await watcher.receive_nothing()  # no presence.diff for either
    assert await rooms.aonline("lobby") == ["bob"]
    assert len((await get_hub()).rooms["lobby"]) == 3
    assert await rooms.aactive() == ["lobby"]


async def test_a_bad_room_name_is_a_value_error_before_anything_is_joined(
    connect: Connect,
) -> None:
    ws = await connect("/member/", user=ALICE)
    await ws.send_text("join:no spaces")
    error = await ws.receive_json()
    assert error["type"] == "error"
    assert "not a valid room key" in error["message"]
    await ws.send_text("leave:" + "x" * 100)
    assert (await ws.receive_json())["type"] == "error"
    hub = await get_hub()
    assert hub.rooms == {}
    assert await rooms.aactive() == []
    with pytest.raises(ValueError, match="not a valid room key"):
        await rooms.join(next(iter(hub.users[str(ALICE.pk)])), "")


async def test_a_join_before_accept_is_an_invalid_state_error(hub_teardown: None) -> None:
    client = AsyncWebSocketClient(Router([path("early/", joins_before_accept)]))
    async with client.websocket_connect("/early/") as ws:
        assert await ws.receive_json() == {"type": "refused"}
    assert current_hub() is None or current_hub().rooms == {}  # type: ignore[union-attr]


async def test_joined_is_join_and_leave_with_presence(connect: Connect) -> None:
    ws = await connect("/block/", user=ALICE)
    assert await rooms.aonline("lobby") == ["alice"]
    assert await rooms.aactive() == ["lobby"]
    await ws.send_text("done")
    assert await ws.receive_json() == {"type": "out"}
    assert await rooms.aonline("lobby") == []
    assert await rooms.aactive() == []


async def test_active_lists_rooms_of_every_kind_sorted_each_once(connect: Connect) -> None:
    await connect("/member/?rooms=zeta,alpha", user=ALICE)
    await connect("/member/?rooms=alpha,mid")
    hub = await get_hub()
    await hub.join("plain-hub", next(iter(hub.rooms["mid"])))  # any way in counts
    assert await rooms.aactive() == ["alpha", "mid", "plain-hub", "zeta"]
    assert await sync_to_async(rooms.active)() == ["alpha", "mid", "plain-hub", "zeta"]


async def test_a_process_that_stops_renewing_drops_out_of_active(connect: Connect) -> None:
    await connect("/member/?rooms=lobby")
    hub = await get_hub()
    # Another process's entry, as a crashed one leaves it: written once, never renewed.
    await hub.store.add(ACTIVE_KEY, json.dumps(["elsewhere", "wsapp.hub.dead"]), 0.2)
    assert await rooms.aactive() == ["elsewhere", "lobby"]
    await wait_until(_active_is(["lobby"]), 2, "the dead process's room to expire")
    await hub.refresh()  # prunes the expired entry and renews this process's own
    assert not any("elsewhere" in m for m in await hub.store.members(ACTIVE_KEY))
    assert await rooms.aactive() == ["lobby"]


async def test_the_refresh_rewrites_a_lost_entry_and_removes_an_idle_one(connect: Connect) -> None:
    await connect("/member/?rooms=lobby,random")
    hub = await get_hub()
    await hub.store.remove(ACTIVE_KEY, json.dumps(["lobby", hub.channel], separators=(",", ":")))
    hub.leave("random", next(iter(hub.rooms["random"])))  # no idle check: the refresh's job
    assert await rooms.aactive() == ["random"]
    await hub.refresh()
    assert await rooms.aactive() == ["lobby"]


def hub_now() -> Any:
    hub = current_hub()
    assert hub is not None
    return hub


def _active_is(expected: list[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await rooms.aactive() == expected

    return check


async def test_a_stopping_hub_removes_its_rooms_from_active(connect: Connect) -> None:
    await connect("/member/?rooms=lobby")
    hub = await get_hub()
    store = hub.store
    await hub.stop()
    assert await rooms.aactive() == []  # not left for a TTL: the hub said goodbye
    assert await store.members(ACTIVE_KEY) == []
