"""The hub's fan-out table: raw broadcasts, messages to a user, and multiplexed (topic) sockets.

In-process on the in-memory layer; the same paths across two processes on Redis are in
tests/e2e/test_rooms_cluster.py.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from tests.support.sockets import Connect, joined_sockets
from tests.wsapp.helpers import FakeServer, websocket_scope
from wsapp import WebSocket
from wsapp.codes import CloseCode
from wsapp.hub.delivery import Delivery, topic_frame
from wsapp.hub.hub import get_hub
from wsapp.rooms import (
    abroadcast,
    abroadcast_raw,
    aclose,
    akick,
    asend_to_user,
    broadcast_raw,
    send_to_user,
)
from wsapp.routing import Router, path
from wsapp.types import SEND_EXTENSION

pytestmark = pytest.mark.usefixtures("hub_teardown")


def _text(frame: dict[str, Any]) -> Any:
    return json.loads(frame["text"])


# -- the topic form of a frame, built once per message ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"note","n":1}', {"type": "note", "n": 1, "topic": "lobby"}),
        ("{}", {"topic": "lobby"}),
        ('{ "a": 1 }', {"a": 1, "topic": "lobby"}),
        ('{"topic":"forged","a":1}', {"a": 1, "topic": "lobby"}),  # ours is the last key
        ("[1,2]", {"type": "broadcast", "topic": "lobby", "data": [1, 2]}),
        ('"hi"', {"type": "broadcast", "topic": "lobby", "data": "hi"}),
    ],
    ids=["object", "empty", "spaced", "forged-topic", "list", "string"],
)
def test_a_json_frame_names_its_topic_without_being_decoded(text: str, expected: Any) -> None:
    frame = topic_frame("lobby", {"type": "websocket.send", "text": text})
    assert frame["type"] == "websocket.send"
    assert json.loads(frame["text"]) == expected


def test_a_raw_text_frame_is_wrapped_even_when_it_looks_like_json() -> None:
    frame = topic_frame("lobby", {"type": "websocket.send", "text": '{"not": json'}, raw=True)
    assert _text(frame) == {"type": "raw", "topic": "lobby", "text": '{"not": json'}


def test_a_raw_binary_frame_is_wrapped_as_base64() -> None:
    frame = topic_frame("lobby", {"type": "websocket.send", "bytes": b"\x00\xff"}, raw=True)
    decoded = _text(frame)
    assert (decoded["type"], decoded["topic"]) == ("raw", "lobby")
    assert base64.b64decode(decoded["base64"]) == b"\x00\xff"


def test_a_topic_name_is_json_escaped() -> None:
    frame = topic_frame('a"b', {"type": "websocket.send", "text": "{}"})
    assert _text(frame) == {"topic": 'a"b'}


# -- sockets: plain members and multiplexed ones ----------------------------------------------


class Multiplexed:
    """A handler whose socket takes several rooms as topics, announcing each ended topic."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def topic_ended(self, room: str, code: int, reason: str) -> None:
        await self.ws.send_json({"type": "unsubscribed", "topic": room, "code": code})


async def plain_member(ws: WebSocket, room: str) -> None:
    await ws.accept()
    hub = await get_hub()
    await hub.join(room, ws)
    await ws.send_json({"type": "joined"})
    async for _ in ws:
        pass


async def topics_member(ws: WebSocket, rooms: str) -> None:
    await ws.accept()
    hub = await get_hub()
    listener = Multiplexed(ws)
    for room in rooms.split(","):
        await hub.join(room, ws, listener=listener)
    await ws.send_json({"type": "joined"})
    async for _ in ws:
        pass


async def user_socket(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_json({"type": "joined"})
    async for _ in ws:
        pass


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    routes = [
        path("plain/<slug:room>/", plain_member),
        path("topics/<str:rooms>/", topics_member),
        path("user/", user_socket),
    ]
    async with joined_sockets(Router(routes)) as open_session:
        yield open_session


async def test_a_raw_text_broadcast_reaches_plain_members_unquoted(connect: Connect) -> None:
    a, b = await connect("/plain/lobby/"), await connect("/plain/lobby/")
    await abroadcast_raw("lobby", "PING 42", exclude=None)
    assert [await a.receive_text(), await b.receive_text()] == ["PING 42", "PING 42"]


async def test_a_raw_binary_broadcast_is_a_binary_frame(connect: Connect) -> None:
    a = await connect("/plain/lobby/")
    await abroadcast_raw("lobby", b"\x01\x02")
    assert await a.receive_bytes() == b"\x01\x02"


async def test_a_raw_broadcast_skips_the_excluded_socket(connect: Connect) -> None:
    a, b = await connect("/plain/lobby/"), await connect("/plain/lobby/")
    hub = await get_hub()
    sender = next(ws for ws in hub.rooms["lobby"])
    await abroadcast_raw("lobby", "x", exclude=[sender])
    receivers = [s for s in (a, b) if not await s.receive_nothing()]
    assert len(receivers) == 1
    assert await receivers[0].receive_text() == "x"


async def test_broadcast_raw_refuses_what_is_neither_text_nor_bytes() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        await abroadcast_raw("lobby", {"type": "note"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "publish",
    [
        lambda: abroadcast("lobby", {"type": "note", "body": "\ud800"}),
        lambda: abroadcast_raw("lobby", "lone \udfff"),
        lambda: asend_to_user(1, {"body": "\ud800"}),
    ],
    ids=["broadcast", "raw", "to-user"],
)
async def test_text_that_is_not_utf8_is_refused_at_publish_and_members_read_on(
    connect: Connect, publish: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A lone surrogate can reach no wire: the publisher gets ``ValueError`` at once, the hub
    never sees it (no traceback in its log), and the room goes on."""
    a = await connect("/plain/lobby/")
    with pytest.raises(ValueError, match="UTF-8"):
        await publish()
    await abroadcast_raw("lobby", "after")
    assert await a.receive_text() == "after"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_the_sync_twin_of_broadcast_raw_reaches_members(connect: Connect) -> None:
    a = await connect("/plain/lobby/")
    await sync_to_async(broadcast_raw)("lobby", "from a view")
    assert await a.receive_text() == "from a view"


async def test_a_multiplexed_socket_gets_each_rooms_frames_naming_the_topic(
    connect: Connect,
) -> None:
    plain = await connect("/plain/lobby/")
    multi = await connect("/topics/lobby,random/")
    await abroadcast("lobby", {"type": "note", "n": 1})
    await abroadcast("random", {"type": "note", "n": 2})
    assert await plain.receive_json() == {"type": "note", "n": 1}
    assert await multi.receive_json() == {"type": "note", "n": 1, "topic": "lobby"}
    assert await multi.receive_json() == {"type": "note", "n": 2, "topic": "random"}
    await abroadcast_raw("lobby", "raw text")
    assert await plain.receive_text() == "raw text"
    assert await multi.receive_json() == {"type": "raw", "topic": "lobby", "text": "raw text"}


async def test_closing_a_room_ends_the_topic_and_leaves_the_socket_open(connect: Connect) -> None:
    plain = await connect("/plain/lobby/")
    multi = await connect("/topics/lobby,random/")
    await aclose("lobby", reason="archived")
    assert await plain.receive_json() == {"type": "room.closed", "reason": "archived"}
    assert await plain.wait_closed() == (CloseCode.ROOM_CLOSED, "archived")
    assert await multi.receive_json() == {
        "type": "room.closed",
        "reason": "archived",
        "topic": "lobby",
    }
    assert await multi.receive_json() == {
        "type": "unsubscribed",
        "topic": "lobby",
        "code": CloseCode.ROOM_CLOSED,
    }
    hub = await get_hub()
    assert "lobby" not in hub.rooms
    await abroadcast("random", {"type": "still-open"})
    assert await multi.receive_json() == {"type": "still-open", "topic": "random"}


async def test_a_kick_ends_only_that_users_topic(connect: Connect) -> None:
    alice, bob = User(pk=41, username="alice"), User(pk=42, username="bob")
    kicked = await connect("/topics/lobby,random/", user=alice)
    stays = await connect("/topics/lobby/", user=bob)
    await akick("lobby", alice, reason="banned")
    assert await kicked.receive_json() == {
        "type": "unsubscribed",
        "topic": "lobby",
        "code": CloseCode.FORBIDDEN,
    }
    await abroadcast("lobby", {"type": "after"})
    assert await stays.receive_json() == {"type": "after", "topic": "lobby"}
    assert await kicked.receive_nothing()
    await abroadcast("random", {"type": "elsewhere"})
    assert await kicked.receive_json() == {"type": "elsewhere", "topic": "random"}


# -- messages to a user -----------------------------------------------------------------------


async def test_a_message_to_a_user_reaches_every_socket_of_theirs_and_no_other(
    connect: Connect,
) -> None:
    alice, bob = User(pk=41, username="alice"), User(pk=42, username="bob")
    tab1 = await connect("/user/", user=alice)
    tab2 = await connect("/plain/lobby/", user=alice)
    other = await connect("/user/", user=bob)
    anonymous = await connect("/user/")
    await asend_to_user(alice, {"type": "notice", "body": "hi alice"})
    assert await tab1.receive_json() == {"type": "notice", "body": "hi alice"}
    assert await tab2.receive_json() == {"type": "notice", "body": "hi alice"}
    assert await other.receive_nothing()
    assert await anonymous.receive_nothing()
    await asend_to_user(42, {"type": "notice", "body": "by pk"})
    assert await other.receive_json() == {"type": "notice", "body": "by pk"}


async def test_a_message_to_a_user_with_no_socket_is_not_queued(connect: Connect) -> None:
    alice = User(pk=41, username="alice")
    await asend_to_user(alice, {"type": "early"})
    tab = await connect("/user/", user=alice)
    assert await tab.receive_nothing()


async def test_the_sync_twin_sends_to_a_user_from_a_thread(connect: Connect) -> None:
    alice = User(pk=41, username="alice")
    tab = await connect("/user/", user=alice)
    # A sync view or signal receiver runs in sync_to_async's thread under ASGI, as here.
    await sync_to_async(send_to_user)(alice, {"type": "from-a-view"})
    assert await tab.receive_json() == {"type": "from-a-view"}


# -- the fan-out's direct writes ----------------------------------------------------------------


async def test_fan_out_writes_directly_where_the_server_allows_and_awaits_elsewhere() -> None:
    """One broadcast to a mix of sockets: those whose server takes frames directly get the very
    frame object in the call, the one without goes through its ASGI send, a closed one is
    skipped, and the count is of deliveries made."""
    written: list[Any] = []
    direct = websocket_scope(extensions={SEND_EXTENSION: {"frame": written.append}})
    fast = [await FakeServer().accepted_socket(direct) for _ in range(3)]
    asgi_server = FakeServer()
    slow = await asgi_server.accepted_socket()
    closing_server = FakeServer()
    gone = await closing_server.accepted_socket(direct)
    closing_server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    await gone.receive()
    delivery = Delivery()
    for ws in [*fast, slow, gone]:
        delivery.add("lobby", ws, hold=False, listener=None)
    frame = {"type": "websocket.send", "text": '{"type":"note"}'}
    await delivery.send("lobby", frame)
    assert written == [frame] * 3 and all(f is frame for f in written)
    assert asgi_server.sent[-1] == frame
    assert delivery.delivered == 4
    assert [ws.bytes_sent for ws in fast] == [15, 15, 15]
