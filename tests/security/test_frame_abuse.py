"""Frame-level abuse of a real ``manage.py serve``: fragments, control frames, compression.

Each test speaks raw RFC 6455 (:mod:`tests.security.rawws`) to its own server process and
asserts the close code and reason the attacker gets, that memory or CPU stays bounded, and that
the server logged no traceback.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.e2e.servers import ServerProcess, StartServer
from tests.security.rawws import (
    DEFLATE,
    OP_BINARY,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawClients,
    cpu_seconds,
    deflated,
    frame,
)
from tests.support.timing import scaled
from wsapp.codes import CloseCode

pytestmark = pytest.mark.e2e

KiB, MiB = 1024, 1024 * 1024
MAX_FRAGMENTS = 1024  # DEFAULTS["MAX_FRAGMENTS"]


def fragmented(payload: bytes, count: int, opcode: int = OP_TEXT) -> bytes:
    """``payload`` (at least ``count`` bytes) as one message in ``count`` frames."""
    size = len(payload) // count
    pieces = [payload[i * size : (i + 1) * size] for i in range(count - 1)]
    pieces.append(payload[(count - 1) * size :])
    frames = [frame(opcode, pieces[0], fin=count == 1)]
    frames += [frame(OP_CONTINUATION, p, fin=i == count - 2) for i, p in enumerate(pieces[1:])]
    return b"".join(frames)


def assert_no_traceback(server: ServerProcess) -> None:
    output = server.output()
    assert "Traceback" not in output, output[-3000:]


async def echo_round_trip(server: ServerProcess, text: str = "still here") -> float:
    """Seconds a healthy client's echo takes on another socket."""
    async with connect(server.url("/test/echo/"), open_timeout=scaled(10)) as ws:
        started = time.monotonic()
        await ws.send(text)
        assert await asyncio.wait_for(ws.recv(), scaled(10)) == text
        return time.monotonic() - started


# -- fragments -------------------------------------------------------------------------------


async def test_message_in_max_fragments_frames_is_echoed(
    raw: RawClients, serve_server: ServerProcess
) -> None:
    client = await raw.websocket(serve_server.host, serve_server.port)
    payload = b"y" * (2 * MAX_FRAGMENTS)
    await client.send(fragmented(payload, MAX_FRAGMENTS))
    echoed = await client.read_frame()
    assert (echoed.fin, echoed.opcode, echoed.payload) == (True, OP_TEXT, payload)


@pytest.mark.parametrize("count", [MAX_FRAGMENTS + 1, 200_000], ids=["one-over", "200k"])
async def test_message_in_too_many_fragments_closes_with_1008(
    raw: RawClients, start_server: StartServer, count: int
) -> None:
    # MAX_MESSAGE_SIZE's default (1 MiB): 200,000 one-byte fragments are 200 KB of payload,
    # under the size limit, but once pinned ~24 MB of frame objects.
    server = start_server("serve", wsapp={"MAX_MESSAGE_SIZE": MiB})
    await echo_round_trip(server)  # warm up imports and caches
    before = server.rss_kib()
    client = await raw.websocket(server.host, server.port)
    with_flood = asyncio.ensure_future(client.send(fragmented(b"z" * count, count)))
    assert await client.close_code() == (
        CloseCode.POLICY_VIOLATION,
        f"message in over {MAX_FRAGMENTS} frames",
    )
    await asyncio.wait([with_flood], timeout=scaled(10))
    with_flood.cancel()
    grown_mib = (server.rss_kib() - before) / KiB
    assert grown_mib < 8, f"server RSS grew {grown_mib:.1f} MiB"
    assert await echo_round_trip(server) < scaled(2)
    assert_no_traceback(server)


# -- control frames --------------------------------------------------------------------------


async def test_pings_within_the_rate_are_answered(
    raw: RawClients, serve_server: ServerProcess
) -> None:
    client = await raw.websocket(serve_server.host, serve_server.port)
    for index in range(20):  # under CONTROL_FRAME_RATE's burst
        await client.send(frame(OP_PING, b"p%d" % index))
    pongs = [await client.read_frame() for _ in range(20)]
    assert [(f.opcode, f.payload) for f in pongs] == [(OP_PONG, b"p%d" % i) for i in range(20)]


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG], ids=["ping", "pong"])
async def test_control_frame_flood_closes_with_1008(
    raw: RawClients, serve_server: ServerProcess, opcode: int
) -> None:
    client = await raw.websocket(serve_server.host, serve_server.port)
    flood = frame(opcode, b"x" * 125) * 2000  # never reads a pong
    sending = asyncio.ensure_future(client.send(flood))
    assert await client.close_code() == (CloseCode.POLICY_VIOLATION, "too many control frames")
    await asyncio.wait([sending], timeout=scaled(10))
    sending.cancel()
    assert await echo_round_trip(serve_server) < scaled(2)
    assert_no_traceback(serve_server)


async def test_unread_pongs_count_toward_the_send_buffer(
    raw: RawClients, start_server: StartServer
) -> None:
    # No control-frame rate: only MAX_SEND_BUFFER (1 MiB here) stands between a ping flood that
    # never reads its pongs and the server's memory (2M pings once grew it by 300 MiB).
    server = start_server("serve", wsapp={"CONTROL_FRAME_RATE": None})
    before = server.rss_kib()
    client = await raw.websocket(server.host, server.port)
    ping = frame(OP_PING, b"x" * 125)
    sent = 0
    closed = False
    # 200,000 pings: 26 MB of pongs if the server kept them all.
    for _ in range(100):
        try:
            await client.send(ping * 2000)
        except (ConnectionError, TimeoutError):
            closed = True
            break
        sent += 2000
    grown_mib = (server.rss_kib() - before) / KiB
    assert closed or sent == 200_000
    assert await client.close_code(wait=30) == (CloseCode.TRY_AGAIN_LATER, "send buffer full")
    assert grown_mib < 16, f"server RSS grew {grown_mib:.0f} MiB"
    assert server.output().count("with 1013: ") == 1
    assert_no_traceback(server)


# -- compression -----------------------------------------------------------------------------


async def test_decompression_bomb_closes_with_1009_and_memory_stays_bounded(
    raw: RawClients,
    serve_server: ServerProcess,
) -> None:
    before = serve_server.rss_kib()
    bomb = deflated(b"\x00" * (64 * MiB))  # ~64 KB on the wire
    client = await raw.websocket(
        serve_server.host,
        serve_server.port,
        extra_headers=f"Sec-WebSocket-Extensions: {DEFLATE}\r\n",
    )
    assert b"permessage-deflate" in client.response_head
    await client.send(frame(OP_BINARY, bomb, rsv=4))
    assert await client.close_code() == (CloseCode.MESSAGE_TOO_BIG, "message over 65536 bytes")
    grown_mib = (serve_server.rss_kib() - before) / KiB
    assert grown_mib < 8, f"server RSS grew {grown_mib:.1f} MiB"
    assert_no_traceback(serve_server)


async def inflate_flood(raw: RawClients, server: ServerProcess, seconds: float) -> dict[str, Any]:
    """One socket sends ~1 KB frames that each inflate to 1 MiB for ``seconds``; meanwhile a
    healthy client echoes. Returns the server's CPU seconds and the echo round trips."""
    bomb = frame(OP_BINARY, deflated(b"\x00" * MiB), rsv=4)
    assert len(bomb) < 1100
    attacker = await raw.websocket(
        server.host, server.port, "/test/sleepy/?seconds=0",
        extra_headers=f"Sec-WebSocket-Extensions: {DEFLATE}\r\n",
    )  # fmt: skip
    cpu_before = cpu_seconds(server.pid)
    deadline = time.monotonic() + seconds
    sent = 0

    async def flood() -> None:
        nonlocal sent
        while time.monotonic() < deadline:
            attacker.writer.write(bomb * 60)  # ~600 KB/s on the wire at 10 writes a second
            sent += 60
            await attacker.writer.drain()
            await asyncio.sleep(0.1)

    flooding = asyncio.ensure_future(flood())
    rtts = []
    await asyncio.sleep(0.5)
    while time.monotonic() < deadline:
        rtts.append(await echo_round_trip(server, "ping"))
        await asyncio.sleep(0.2)
    await asyncio.wait([flooding], timeout=scaled(5))
    flooding.cancel()
    used = cpu_seconds(server.pid) - cpu_before
    attacker.abort()
    return {"cpu": used, "rtts": rtts, "sent": sent}


async def test_inflate_budget_keeps_one_socket_from_taking_the_cpu(
    raw: RawClients,
    start_server: StartServer,
) -> None:
    server = start_server("serve", wsapp={"MAX_MESSAGE_SIZE": MiB})
    seconds = 4.0
    result = await inflate_flood(raw, server, seconds)
    # 4 MiB/s of inflating plus the 4 MiB burst: ~20 of the ~2,000 MiB sent in 4 s.
    assert result["sent"] > 800, result
    assert result["cpu"] < seconds / 4, result
    assert max(result["rtts"]) < scaled(0.5), result
    assert_no_traceback(server)


async def test_queue_is_bounded_in_bytes(raw: RawClients, start_server: StartServer) -> None:
    # MAX_QUEUE (64) messages of 1 MiB would hold 64 MiB for an application that is behind;
    # MAX_QUEUE_BYTES (1 MiB by default) stops reading after about one.
    server = start_server("serve", wsapp={"MAX_MESSAGE_SIZE": MiB, "MAX_QUEUE": 64})
    await echo_round_trip(server)  # warm up imports and caches
    before = server.rss_kib()
    count, message = 48, frame(OP_BINARY, os.urandom(MiB))
    client = await raw.websocket(server.host, server.port, "/test/sleepy/?seconds=4")
    sending = asyncio.ensure_future(client.send(message * count))
    await asyncio.sleep(2.5)
    grown_mib = (server.rss_kib() - before) / KiB
    assert not sending.done()
    assert grown_mib < 12, f"server RSS grew {grown_mib:.0f} MiB"
    await asyncio.wait_for(sending, scaled(30))
    await client.send(frame(OP_TEXT, b"done"))
    answer = await client.read_frame(wait=30)
    assert answer.payload == f"{count} {count * MiB}".encode()


async def test_inflating_sockets_of_an_application_that_is_behind_hold_bounded_memory(
    raw: RawClients, start_server: StartServer
) -> None:
    # Eight sockets send 1 MiB bombs to a handler that reads nothing: with MAX_QUEUE's default
    # (64) alone they once held 945 MB; MAX_QUEUE_BYTES and the inflate budget cap each socket.
    server = start_server("serve", wsapp={"MAX_MESSAGE_SIZE": MiB, "MAX_QUEUE": 64})
    await echo_round_trip(server)  # warm up imports and caches
    before = server.rss_kib()
    bombs = frame(OP_BINARY, deflated(b"\x00" * MiB), rsv=4) * 64
    attackers = [
        await raw.websocket(
            server.host, server.port, "/test/sleepy/?seconds=60",
            extra_headers=f"Sec-WebSocket-Extensions: {DEFLATE}\r\n",
        )
        for _ in range(8)
    ]  # fmt: skip
    for attacker in attackers:
        attacker.writer.write(bombs)  # 64 MiB each once inflated, ~64 KB on the wire
    await asyncio.sleep(4)
    grown_mib = (server.rss_kib() - before) / KiB
    assert grown_mib < 40, f"server RSS grew {grown_mib:.0f} MiB"
    assert await echo_round_trip(server) < scaled(0.5)
    assert_no_traceback(server)
