"""Connection-level parity over real sockets, against ``manage.py serve``: the frame errors
ported handlers catch, ``ws.path_params`` for a handler that takes only ``ws``, and rate-limit
notices in the endpoint's own protocol.

One server process serves :mod:`tests.routing_parity` with ``MAX_INVALID_FRAMES`` 2 and a
rate limit of one frame every 3 s (burst 2): three frames at once meet it, and 3 s later one
passes again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.servers import DEFAULT_SETTINGS, ServerProcess, running_server, serve_command
from tests.e2e.servers import server_env as env_for
from tests.support.timing import scaled
from wsapp.codes import CloseCode
from wsapp.limits import RATE_LIMITED_FRAME

pytestmark = pytest.mark.e2e

WSAPP = {
    "ROUTING": "tests.routing_parity",
    "MAX_INVALID_FRAMES": 2,
    "RATE_LIMIT": "20/m burst 2",
    "RATE_LIMIT_GRACE": 30.0,
}
TIMEOUT = scaled(10)


@pytest.fixture(scope="module")
def server(
    e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("parity-server") / "serve.log"
    env = env_for(DEFAULT_SETTINGS, e2e_database_url, {"WSAPP_E2E": json.dumps(WSAPP)})
    with running_server(serve_command, env, log) as process:
        yield process
    # Every bad frame was answered or closed with its code: nothing was a 1011 or a traceback.
    assert "Traceback" not in process.output(), process.output()


def dial(server: ServerProcess, path: str) -> Any:
    return connect(server.url(path), proxy=None, open_timeout=TIMEOUT)


async def exchange(ws: ClientConnection, frame: str | bytes) -> Any:
    """Send one frame; the reply, text decoded as JSON when it is JSON, binary as it is."""
    await ws.send(frame)
    reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
    if isinstance(reply, bytes):
        return reply
    try:
        return json.loads(reply)
    except ValueError:
        return reply


# Each idiom: a refused frame answered, then a good one served (two frames: the burst).
IDIOMS = {
    "starlette-except-ValueError": (
        "/parity/starlette/",
        [("not json", {"error": "invalid json", "detail": "InvalidPayload"})],
        ('{"a": 1}', {"echo": {"a": 1}}),
    ),
    "sanic-except-TypeError": ("/parity/sanic/", [(b"\x00", "text frames only")], ("hi", "got hi")),
    "quart-except-TypeError-ValueError": (
        "/parity/quart/",
        [(b"{}", {"error": "TypeError"})],
        ('{"a": 1}', {"echo": {"a": 1}}),
    ),
    "blacksheep-binary-except-ValueError": (
        "/parity/blacksheep/",
        [(b"nope", b'{"error": "invalid json"}')],
        (b'{"a":1}', b'{"echo":{"a":1}}'),
    ),
    "websockets-recv-except-ValueError": (
        "/parity/websockets/",
        [("nope", {"type": "error", "message": "JSONDecodeError"})],
        (b'{"a": 1}', {"type": "echo", "event": {"a": 1}}),
    ),
}


@pytest.mark.parametrize(("route", "refused", "good"), IDIOMS.values(), ids=IDIOMS.keys())
async def test_a_caught_frame_error_is_answered_and_the_socket_stays_open(
    server, route, refused, good
) -> None:
    async with dial(server, route) as ws:
        for frame, answer in refused:
            assert await exchange(ws, frame) == answer
        assert await exchange(ws, good[0]) == good[1]
        assert ws.close_code is None


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read on until the server closes; its close code and reason (no frame came before it)."""
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    return ws.close_code, ws.close_reason


async def test_an_uncaught_frame_error_still_closes_with_its_code(server) -> None:
    async with dial(server, "/parity/blacksheep/") as ws:  # catches ValueError, not TypeError
        await ws.send("{}")
        closed = await closed_with(ws)
    assert closed == (CloseCode.UNSUPPORTED_DATA, "Expected a binary frame, got a text frame.")


async def test_caught_refusals_still_meet_max_invalid_frames(server) -> None:
    refused = {"error": "invalid json", "detail": "InvalidPayload"}
    async with dial(server, "/parity/starlette/") as ws:
        for _ in range(2):  # both answered: the handler caught them
            assert await exchange(ws, "bad") == refused
        closed = await closed_with(ws)  # its next receive_json() ended the connection
    assert closed == (CloseCode.BAD_REQUEST, "2 malformed messages in a row.")


async def test_a_handler_that_takes_only_ws_gets_path_params(server) -> None:
    async with dial(server, "/parity/endpoint/lobby/7/") as ws:
        reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert reply == {"path_params": {"room": "lobby", "n": 7}}


FLOODS = {
    "plain-handler-nothing": ("/parity/plain/", "hi {}", None),
    "plain-handler-own-notice": ("/parity/noticed/", "hi {}", "slow down"),
    "consumer-json": ("/parity/json/", '{{"type":"echo","n":{}}}', RATE_LIMITED_FRAME),
    "binary-consumer": (
        "/parity/binary-json/",
        b'{"type":"echo","n":%d}',
        RATE_LIMITED_FRAME.encode(),
    ),
}


def numbered(frame: str | bytes, n: int) -> str | bytes:
    return frame % n if isinstance(frame, bytes) else frame.format(n)


@pytest.mark.parametrize(("route", "frame", "notice"), FLOODS.values(), ids=FLOODS.keys())
async def test_a_dropped_message_is_answered_in_the_endpoints_protocol(
    server, route, frame, notice
) -> None:
    async with dial(server, route) as ws:
        for n in range(3):  # at once: the burst is two, the third is dropped
            await ws.send(numbered(frame, n))
        replies = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(2)]
        assert replies == [numbered(frame, 0), numbered(frame, 1)]
        if notice is not None:
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == notice
        await asyncio.sleep(scaled(3.3))  # the bucket's next token: the time is the condition
        await ws.send(numbered(frame, 3))
        # The next frame is that one's echo: a plain handler's drop was answered by nothing.
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == numbered(frame, 3)
