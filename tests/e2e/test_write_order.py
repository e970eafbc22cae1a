"""``manage.py serve``'s write path keeps the wire in order.

Frames go to the kernel without a reactor turn when nothing is queued for the socket, and
through Twisted's buffer when something is. Either way the client must see what the
application sent in the order it sent it: the 101 response first, then every frame, then the
close frame, even when the close comes right after accept, when a burst outgrows what the
kernel takes at once, and when hundreds of sockets do it at the same moment. The per-user-cap
storm (``test_cluster.py``) is the same race through wsapp's accept hooks.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.servers import ServerProcess
from tests.support.timing import scaled

pytestmark = pytest.mark.e2e

TIMEOUT = scaled(20.0)
STORM = 200


async def frames_then_close(
    server: ServerProcess, path: str, compression: str | None = "deflate"
) -> tuple[list[str], int, str]:
    """Everything the server sends on ``path`` until it closes: the frames, code and reason."""
    frames: list[str] = []
    options = {"open_timeout": TIMEOUT, "max_size": None, "compression": compression}
    async with connect(server.url(path), **options) as ws:
        with pytest.raises(ConnectionClosed):
            while True:
                frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert isinstance(frame, str)
                frames.append(frame)
        assert ws.close_code is not None
        return frames, ws.close_code, ws.close_reason or ""


def expected(count: int, size: int) -> list[str]:
    return [f"{index}:".ljust(size, "x") for index in range(count)]


async def test_a_close_right_after_accept_follows_the_handshake_for_a_storm_of_sockets(
    serve_server: ServerProcess,
) -> None:
    path = "/test/close/?code=4409&reason=at+once"
    results = await asyncio.gather(*(frames_then_close(serve_server, path) for _ in range(STORM)))
    assert results == [([], 4409, "at once")] * STORM


# Uncompressed sockets share one prebuilt frame per broadcast (FrameCache); compressed ones
# go through autobahn's per-socket deflate: both write paths are tried.
@pytest.mark.parametrize("compression", ["deflate", None], ids=["deflate", "plain"])
@pytest.mark.parametrize(
    ("count", "size"),
    [(1, 10), (200, 100), (48, 16 * 1024)],
    ids=["one-frame", "many-small", "more-than-the-kernel-takes-at-once"],
)
async def test_a_burst_then_close_arrives_whole_and_in_order(
    serve_server: ServerProcess, count: int, size: int, compression: str | None
) -> None:
    path = f"/test/burst/?count={count}&size={size}"
    frames, code, reason = await frames_then_close(serve_server, path, compression)
    assert (code, reason) == (4409, "burst done")
    assert frames == expected(count, size)


async def test_bursts_on_many_sockets_at_once_each_arrive_whole_and_in_order(
    serve_server: ServerProcess,
) -> None:
    path = "/test/burst/?count=20&size=2000"
    results = await asyncio.gather(
        *(frames_then_close(serve_server, path, ("deflate", None)[n % 2]) for n in range(50))
    )
    assert results == [(expected(20, 2000), 4409, "burst done")] * 50
