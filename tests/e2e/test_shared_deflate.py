"""``COMPRESSION_CONTEXT_TAKEOVER: False``: compressed frames built once per broadcast.

``serve`` then agrees ``server_no_context_takeover`` with every client that offers
permessage-deflate, compresses each message from a fresh context and hands every member of a
room the same compressed frame (``FrameCache.deflated``). A real ``websockets`` client must
inflate every frame, broadcast or not, in order; the default keeps each socket's own context.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.conftest import StartServer
from tests.e2e.servers import ServerProcess
from tests.e2e.test_write_order import expected, frames_then_close
from tests.support.timing import scaled

pytestmark = pytest.mark.e2e

TIMEOUT = scaled(20.0)
MEMBERS = 20
MESSAGES = 30


@pytest.fixture
def per_message_server(start_server: StartServer) -> ServerProcess:
    return start_server("serve", wsapp={"COMPRESSION_CONTEXT_TAKEOVER": False})


async def wire_bytes_of_repeats(server: ServerProcess, repeats: int = 10) -> int:
    """Bytes on the wire for ``repeats`` identical 2 KB echoes, compressed both ways.

    With context takeover every repeat after the first is a back-reference into the last
    message, a few bytes; from a fresh context each is compressed whole again.
    """
    received = 0
    message = "".join(f"{n:04d} lorem ipsum dolor sit amet " for n in range(64))
    async with connect(server.url("/ws/echo/"), compression="deflate") as ws:
        data_received = ws.data_received

        def counting(data: bytes) -> None:
            nonlocal received
            received += len(data)
            data_received(data)

        ws.data_received = counting  # type: ignore[method-assign]
        for _ in range(repeats):
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == message
    return received


async def test_no_context_takeover_compresses_each_message_from_a_fresh_context(
    per_message_server: ServerProcess, serve_server: ServerProcess
) -> None:
    fresh = await wire_bytes_of_repeats(per_message_server)
    takeover = await wire_bytes_of_repeats(serve_server)
    assert fresh > 3 * takeover, (fresh, takeover)


@pytest.mark.parametrize(
    ("count", "size"), [(200, 100), (48, 16 * 1024)], ids=["many-small", "large"]
)
async def test_per_message_frames_arrive_whole_and_in_order(
    per_message_server: ServerProcess, count: int, size: int
) -> None:
    path = f"/test/burst/?count={count}&size={size}"
    frames, code, reason = await frames_then_close(per_message_server, path, "deflate")
    assert (code, reason) == (4409, "burst done")
    assert frames == expected(count, size)


async def body(ws: ClientConnection, timeout: float = TIMEOUT) -> str:
    return str(json.loads(await asyncio.wait_for(ws.recv(), timeout))["body"])


async def all_joined(members: list[ClientConnection]) -> None:
    """Return once every member is in the room, with nothing of the warm-up left to read.

    A handler joins after its accept, so the 101 does not say the member has joined: probes go
    out until each member has had one, then a last ``ready`` that every member reads up to.
    """
    waiting = set(members)
    while waiting:
        await members[0].send("probe")
        for ws in list(waiting):
            with contextlib.suppress(TimeoutError):
                await body(ws, timeout=0.5)
                waiting.discard(ws)
    await members[0].send("ready")
    for ws in members:
        while await body(ws) != "ready":
            pass


async def test_every_member_inflates_the_shared_broadcast_frames_in_order(
    per_message_server: ServerProcess,
) -> None:
    """Members with and without compression in one room: the compressed ones share one frame
    per message, the plain ones another, and each gets every message once, in order."""
    url = per_message_server.url("/ws/broadcast/shared/")
    members = [
        await connect(url, compression="deflate" if n % 4 else None, open_timeout=TIMEOUT)
        for n in range(MEMBERS)
    ]
    try:
        await all_joined(members)
        for n in range(MESSAGES):
            # One sender: messages from different sockets have no order between them.
            await members[1].send(f"message {n} " + "chat " * 20)

        async def read(ws: ClientConnection) -> list[str]:
            return [await body(ws) for _ in range(MESSAGES)]

        got = await asyncio.gather(*(read(ws) for ws in members))
    finally:
        await asyncio.gather(*(ws.close() for ws in members))
    want = [f"message {n} " + "chat " * 20 for n in range(MESSAGES)]
    assert got == [want] * MEMBERS
