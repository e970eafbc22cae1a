"""``wsapp.broadcast(sockets, message)``: websockets' broadcast for any set of local sockets.

In-process through the test client; under a real ``manage.py serve`` in
tests/e2e/test_rooms_cluster.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

import wsapp
from tests.support.timing import wait_until
from wsapp import WebSocket, fanout
from wsapp.codes import CloseCode
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession


class Sockets:
    """The server side of every connection the tests open, in the order they were accepted."""

    def __init__(self) -> None:
        self.all: list[WebSocket] = []

    async def listener(self, ws: WebSocket) -> None:
        await ws.accept()
        self.all.append(ws)
        await ws.send_json({"type": "ready"})
        async for _ in ws.iter_text():
            pass

    async def unaccepted(self, ws: WebSocket) -> None:
        queued = wsapp.broadcast([ws], "too early")
        await ws.accept()
        await ws.send_json({"queued": queued})


Connect = Callable[..., Awaitable[AsyncWebSocketSession]]


@pytest.fixture
def sockets() -> Sockets:
    return Sockets()


@pytest_asyncio.fixture
async def connect(sockets: Sockets) -> AsyncIterator[Connect]:
    client = AsyncWebSocketClient(
        Router([path("listen/", sockets.listener), path("early/", sockets.unaccepted)])
    )
    opened: list[AsyncWebSocketSession] = []

    async def open_session(url: str = "/listen/") -> AsyncWebSocketSession:
        session = await client.websocket_connect(url).connect()
        opened.append(session)
        if url == "/listen/":
            assert await session.receive_json() == {"type": "ready"}
        return session

    yield open_session
    for session in opened:
        await session.close()


async def test_a_text_message_reaches_every_open_socket_without_an_await(
    connect: Connect, sockets: Sockets
) -> None:
    a, b, c = await connect(), await connect(), await connect()
    queued = wsapp.broadcast(sockets.all, "hello")
    assert queued == 3  # a plain return value: nothing to await
    assert [await s.receive_text() for s in (a, b, c)] == ["hello"] * 3


async def test_bytes_are_a_binary_frame_and_any_iterable_will_do(
    connect: Connect, sockets: Sockets
) -> None:
    a, b = await connect(), await connect()
    assert wsapp.broadcast((ws for ws in sockets.all), bytearray(b"\x00\xff")) == 2
    assert [await a.receive_bytes(), await b.receive_bytes()] == [b"\x00\xff"] * 2


async def test_one_frame_is_built_once_and_shared(connect: Connect, sockets: Sockets) -> None:
    await connect(), await connect()
    frames: list[dict[str, Any]] = []
    for ws in sockets.all:
        original = ws.send_soon

        def spy(frame: dict[str, Any], size: int, limit: int, original: Any = original) -> bool:
            frames.append(frame)
            return original(frame, size, limit)  # type: ignore[no-any-return]

        ws.send_soon = spy  # type: ignore[method-assign]
    assert wsapp.broadcast(sockets.all, "shared") == 2
    assert len(frames) == 2 and frames[0] is frames[1]


async def test_closed_and_unaccepted_sockets_are_skipped(
    connect: Connect, sockets: Sockets
) -> None:
    early = await connect("/early/")
    assert await early.receive_json() == {"queued": 0}
    gone, stays = await connect(), await connect()
    await gone.close()
    await wait_until(lambda: sockets.all[0].closed, 2, "the server to see the close")
    assert wsapp.broadcast(sockets.all, "after") == 1
    assert await stays.receive_text() == "after"


async def test_each_socket_gets_successive_messages_in_order_with_bounded_tasks(
    connect: Connect, sockets: Sockets
) -> None:
    a, b = await connect(), await connect()
    before = len(asyncio.all_tasks())
    for n in range(500):
        wsapp.broadcast(sockets.all, str(n))
    # One writer per socket with frames waiting, whatever the number of calls.
    assert len(asyncio.all_tasks()) - before <= 2
    expected = [str(n) for n in range(500)]
    assert [await a.receive_text() for _ in expected] == expected
    assert [await b.receive_text() for _ in expected] == expected
    await wait_until(lambda: len(asyncio.all_tasks()) <= before, 2, "the writers to end")


async def test_a_handlers_own_send_and_close_come_after_what_it_broadcast(
    connect: Connect, sockets: Sockets
) -> None:
    """websockets' counter: broadcast(users, ...), then await ws.send(...): in that order."""
    a = await connect()
    ws = sockets.all[0]
    wsapp.broadcast([ws], "first")
    wsapp.broadcast([ws], "second")
    await ws.send_text("third")
    wsapp.broadcast([ws], "fourth")
    await ws.close(1000, "done")
    assert [await a.receive_text() for _ in range(4)] == ["first", "second", "third", "fourth"]
    assert await a.wait_closed() == (1000, "done")


async def test_a_socket_whose_queue_outgrows_the_send_buffer_is_closed_1013(
    connect: Connect, sockets: Sockets, settings: Any
) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_SEND_BUFFER": 1000}
    slow, fast = await connect(), await connect()
    slow_ws, fast_ws = sockets.all
    for _ in range(5):  # 5 x 400 bytes queued without a yield: over 1000 for slow_ws
        wsapp.broadcast([slow_ws], "x" * 400)
    wsapp.broadcast([fast_ws], "y" * 400)
    assert fanout.pending(slow_ws) == 0  # its queue was dropped, not kept
    assert await slow.wait_closed() == (CloseCode.TRY_AGAIN_LATER, fanout.SEND_BUFFER_REASON)
    assert await fast.receive_text() == "y" * 400
    assert wsapp.broadcast(sockets.all, "later") == 1
    assert await fast.receive_text() == "later"


async def test_what_is_not_text_or_bytes_is_a_type_error(connect: Connect) -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        wsapp.broadcast([], {"type": "note"})  # type: ignore[arg-type]


async def test_text_that_is_not_utf8_is_a_value_error_and_nothing_is_queued(
    connect: Connect, sockets: Sockets
) -> None:
    a = await connect()
    with pytest.raises(ValueError):
        wsapp.broadcast(sockets.all, "lone \ud800")
    assert fanout.pending(sockets.all[0]) == 0
    assert await a.receive_nothing()


def test_outside_an_event_loop_it_says_so() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        wsapp.broadcast([], "x")
