"""``manage.py serve`` over real sockets: what it does that plain Daphne does not.

Each test starts its own server process (``tests.e2e.settings_serve``: MAX_MESSAGE_SIZE 64 KiB,
MAX_QUEUE 8, MAX_SEND_BUFFER 1 MiB, SHUTDOWN_GRACE 5 s) and talks to it with the ``websockets``
client. ``/test/...`` are the raw ASGI apps of :mod:`tests.e2e.asgi_apps`; ``/ws/echo/`` is the
demo project's echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.e2e.servers import (
    PROJECT_ROOT,
    ServerProcess,
    StartServer,
    serve_command,
    server_env,
)
from tests.support.network import port_accepts
from tests.support.timing import scaled, wait_until
from wsapp.codes import CloseCode

pytestmark = pytest.mark.e2e

KiB = 1024
MiB = 1024 * KiB
MAX_MESSAGE_SIZE = 64 * KiB  # tests.e2e.settings_serve
GRACE = 5.0  # tests.e2e.settings_serve
# What serve declares in every websocket scope: protocol pings, HTTP denial responses, a
# disconnect probe (a function) and the direct frame write (the protocol's method).
SCOPE_EXTENSIONS = (
    '{"wsapp.ping": {}, "websocket.http.response": {}, "wsapp.disconnect": {"event": "function"}, '
    '"wsapp.send": {"frame": "method"}}'
)


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; return its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout=10)
    return ws.close_code, ws.close_reason


def headers(ws: ClientConnection) -> Headers:
    """The handshake response's headers."""
    assert ws.response is not None
    return ws.response.headers


# -- close frames ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (CloseCode.FORBIDDEN, "you may not"),
        (CloseCode.INTERNAL_ERROR, "handler crashed"),
        (CloseCode.GOING_AWAY, "idle timeout"),
        (CloseCode.TRY_AGAIN_LATER, "overloaded"),
        (CloseCode.NORMAL_CLOSURE, ""),
    ],
    ids=["4403", "1011", "1001", "1013", "1000-no-reason"],
)
async def test_close_code_and_reason_reach_the_client(
    serve_server: ServerProcess, code: int, reason: str
) -> None:
    query = urlencode({"code": code, "reason": reason})
    async with connect(serve_server.url(f"/test/close/?{query}")) as ws:
        assert await closed_with(ws) == (code, reason)


async def test_long_close_reason_is_cut_to_123_bytes_on_a_character_boundary(
    serve_server: ServerProcess,
) -> None:
    query = urlencode({"code": CloseCode.BAD_REQUEST, "reason": "é" * 100})
    async with connect(serve_server.url(f"/test/close/?{query}")) as ws:
        # 123 bytes would split the 62nd "é" (2 bytes each): 61 whole ones remain.
        assert await closed_with(ws) == (CloseCode.BAD_REQUEST, "é" * 61)


async def test_unsendable_close_code_is_an_application_error(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/test/close/?code=1005")) as ws:
        assert await closed_with(ws) == (CloseCode.INTERNAL_ERROR, "")
    assert "Close code 1005 cannot be sent" in serve_server.output()


async def test_close_before_accept_refuses_the_handshake(serve_server: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(serve_server.url("/test/reject/")):
            pass
    assert caught.value.response.status_code == 403


async def test_accept_sends_the_subprotocol_and_headers(serve_server: ServerProcess) -> None:
    url = serve_server.url("/test/accept-headers/?subprotocol=chat.v1")
    async with connect(url, subprotocols=[Subprotocol("chat.v2"), Subprotocol("chat.v1")]) as ws:
        assert ws.subprotocol == "chat.v1"
        assert headers(ws)["X-Wsapp"] == "yes"


async def test_accepting_a_subprotocol_the_client_did_not_offer_fails_the_handshake(
    serve_server: ServerProcess,
) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(serve_server.url("/test/accept-headers/?subprotocol=other")):
            pass
    assert caught.value.response.status_code == 500
    assert "Subprotocol 'other' was not offered by the client" in serve_server.output()


# -- messages --------------------------------------------------------------------------------


async def test_empty_text_and_binary_messages_are_sent(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/test/empty/")) as ws:
        assert await ws.recv() == ""
        assert await ws.recv() == b""


@pytest.mark.parametrize("path", ["/test/echo/", "/ws/echo/"], ids=["raw", "demo"])
@pytest.mark.parametrize("payload", ["", b"", "héllo", b"\x00\xff"], ids=repr)
async def test_echo_returns_the_frame_unchanged(
    serve_server: ServerProcess, path: str, payload: str | bytes
) -> None:
    async with connect(serve_server.url(path)) as ws:
        await ws.send(payload)
        assert await ws.recv() == payload


async def test_message_with_both_text_and_bytes_is_refused(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/test/both/")) as ws:
        assert await closed_with(ws) == (CloseCode.INTERNAL_ERROR, "")
    assert "websocket.send needs exactly one of 'text' and 'bytes' not None" in (
        serve_server.output()
    )


async def test_outgoing_messages_are_not_bound_by_max_message_size(
    serve_server: ServerProcess,
) -> None:
    async with connect(serve_server.url("/test/big/?size=200000"), max_size=None) as ws:
        assert await ws.recv() == b"x" * 200000


# -- compression -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/test/echo/", "/ws/echo/"], ids=["raw", "demo"])
async def test_permessage_deflate_is_negotiated(serve_server: ServerProcess, path: str) -> None:
    async with connect(serve_server.url(path), compression="deflate") as ws:
        assert "permessage-deflate" in headers(ws)["Sec-WebSocket-Extensions"]
        text = "compress me " * 4000  # 48,000 characters, well under the limit
        await ws.send(text)
        assert await ws.recv() == text


async def test_permessage_deflate_is_declined_when_compression_is_off(
    start_server: StartServer,
) -> None:
    server = start_server("serve", wsapp={"COMPRESSION": False})
    async with connect(server.url("/ws/echo/"), compression="deflate") as ws:
        assert headers(ws).get("Sec-WebSocket-Extensions") is None
        await ws.send("plain")
        assert await ws.recv() == "plain"


# -- size limit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "compression"),
    [
        (os.urandom(MAX_MESSAGE_SIZE + 1), None),
        (os.urandom(MAX_MESSAGE_SIZE + 1), "deflate"),
        # Inflates to one byte over: autobahn alone would deliver it cut to the limit.
        (b"x" * (MAX_MESSAGE_SIZE + 1), "deflate"),
        (b"x" * (4 * MAX_MESSAGE_SIZE), "deflate"),
    ],
    ids=["random-plain", "random-deflate", "one-over-deflate", "4x-deflate"],
)
async def test_oversize_message_closes_with_1009(
    serve_server: ServerProcess, payload: bytes, compression: str | None
) -> None:
    async with connect(serve_server.url("/test/echo/"), compression=compression) as ws:
        await ws.send(payload)
        assert await closed_with(ws) == (
            CloseCode.MESSAGE_TOO_BIG,
            f"message over {MAX_MESSAGE_SIZE} bytes",
        )


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_message_of_exactly_max_message_size_is_delivered(
    serve_server: ServerProcess, compression: str | None
) -> None:
    payload = b"x" * MAX_MESSAGE_SIZE
    async with connect(serve_server.url("/test/echo/"), compression=compression) as ws:
        await ws.send(payload)
        assert await ws.recv() == payload


# -- ping extension --------------------------------------------------------------------------


async def test_application_ping_round_trip_through_the_scope_extension(
    serve_server: ServerProcess,
) -> None:
    async with connect(serve_server.url("/test/ping/")) as ws:
        assert await ws.recv() == SCOPE_EXTENSIONS
        await ws.send("hello")  # the app pings with b"hello"; the client's pong comes back
        assert await ws.recv() == "pong:hello"


async def test_pongs_to_application_pings_do_not_count_as_a_control_frame_flood(
    serve_server: ServerProcess,
) -> None:
    # 100 application pings in a row, more than CONTROL_FRAME_RATE's burst of 50.
    async with connect(serve_server.url("/test/ping/")) as ws:
        assert await ws.recv() == SCOPE_EXTENSIONS
        for index in range(100):
            await ws.send(f"p{index}")
            assert await asyncio.wait_for(ws.recv(), timeout=10) == f"pong:p{index}"


async def test_ping_payload_over_125_bytes_is_refused(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/test/ping/")) as ws:
        await ws.recv()
        await ws.send("p" * 126)
        assert await closed_with(ws) == (CloseCode.INTERNAL_ERROR, "")


async def test_connection_object_ping_measures_the_round_trip(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/test/connection-ping/")) as ws:
        assert await ws.recv() == "rtt-ok"


async def test_client_that_answers_keepalive_pings_stays_connected(
    start_server: StartServer,
) -> None:
    server = start_server("serve", wsapp={"PING_INTERVAL": 1, "PING_TIMEOUT": 1})
    async with connect(server.url("/test/echo/"), ping_interval=None) as ws:
        # Several server pings, each answered by the client library (more of them on a slow
        # machine: the length only has to cover a few PING_INTERVALs).
        await asyncio.sleep(scaled(5))
        await ws.send("alive")
        assert await ws.recv() == "alive"


async def test_client_that_ignores_keepalive_pings_is_dropped(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server("serve", wsapp={"PING_INTERVAL": 1, "PING_TIMEOUT": 1})
    marker = tmp_path / "cleanup.txt"
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        f"GET /test/cleanup/?marker={marker} HTTP/1.1\r\nHost: {server.host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101 ")
    started = time.monotonic()
    first = await asyncio.wait_for(reader.readexactly(1), 5)
    assert first[0] & 0x0F == 0x9  # a ping, which this client never answers
    with contextlib.suppress(ConnectionResetError):  # autobahn aborts: usually a reset
        await asyncio.wait_for(reader.read(), 10)  # until the server drops the TCP
    assert time.monotonic() - started < 6
    writer.close()
    await wait_until(marker.exists, 5, "the handler's cleanup, right after the drop")
    assert marker.read_text() == "1006 "


# -- flow control ----------------------------------------------------------------------------


async def test_slow_reader_is_closed_with_1013_and_memory_stays_bounded(
    serve_server: ServerProcess,
) -> None:
    async with connect(serve_server.url("/test/echo/")) as ws:  # warm up imports and caches
        await ws.send("warm")
        await ws.recv()
    before = serve_server.rss_kib()
    count, size = 2000, 64 * KiB  # 125 MiB if the server buffered all of it
    url = serve_server.url(f"/test/flood/?count={count}&size={size}")
    async with connect(url, compression=None, max_size=None, max_queue=4) as ws:
        await asyncio.sleep(2)  # read nothing while the server floods
        grown_mib = (serve_server.rss_kib() - before) / KiB
        received = 0
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), timeout=10)
                received += 1
    assert (ws.close_code, ws.close_reason) == (CloseCode.TRY_AGAIN_LATER, "send buffer full")
    assert grown_mib < 24, f"server RSS grew {grown_mib:.0f} MiB"
    assert 0 < received < count // 4, received  # what the buffers held, then the close
    assert serve_server.output().count("with 1013: ") == 1


# WSAPP's defaults for the flow-control settings (tests.e2e.settings_serve lowers them), with
# MAX_MESSAGE_SIZE raised to let Autobahn's 9.1.6/9.2.6 16 MiB messages in.
DEFAULT_FLOW = {"MAX_QUEUE": 64, "MAX_SEND_BUFFER": 4 * MiB, "MAX_MESSAGE_SIZE": 16 * MiB}


@pytest.mark.parametrize(
    "payload", ["x" * (16 * MiB), b"\xfe" * (16 * MiB)], ids=["text", "binary"]
)
async def test_16_mib_echo_reaches_a_client_that_reads_it(
    start_server: StartServer, payload: str | bytes
) -> None:
    # One message four times MAX_SEND_BUFFER: nothing was waiting before it, so no slow reader.
    server = start_server("serve", wsapp=DEFAULT_FLOW)
    async with connect(server.url("/test/echo/"), compression=None, max_size=None) as ws:
        for _ in range(2):
            await ws.send(payload)
            assert await asyncio.wait_for(ws.recv(), timeout=60) == payload
    assert "with 1013: " not in server.output()


async def test_client_that_does_not_read_is_still_closed_with_1013_under_the_defaults(
    start_server: StartServer,
) -> None:
    server = start_server("serve", wsapp=DEFAULT_FLOW)
    count, size = 2000, 64 * KiB  # 125 MiB if the server buffered all of it
    url = server.url(f"/test/flood/?count={count}&size={size}")
    async with connect(url, compression=None, max_size=None, max_queue=4) as ws:
        await asyncio.sleep(2)  # read nothing while the server floods
        received = 0
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), timeout=10)
                received += 1
    assert (ws.close_code, ws.close_reason) == (CloseCode.TRY_AGAIN_LATER, "send buffer full")
    assert 0 < received < count // 4, received


async def test_fast_sender_is_paused_while_the_application_is_behind(
    serve_server: ServerProcess,
) -> None:
    count, payload = 400, os.urandom(MAX_MESSAGE_SIZE)  # 25 MiB, more than socket buffers hold
    before = serve_server.rss_kib()
    async with connect(serve_server.url("/test/sleepy/?seconds=3"), compression=None) as ws:

        async def send_all() -> None:
            for _ in range(count):
                await ws.send(payload)

        sending = asyncio.ensure_future(send_all())
        await asyncio.sleep(1.5)
        # MAX_QUEUE (8) messages wait for the sleeping app; the server reads no further.
        assert not sending.done()
        grown_mib = (serve_server.rss_kib() - before) / KiB
        assert grown_mib < 8, f"server RSS grew {grown_mib:.0f} MiB"
        await asyncio.wait_for(sending, timeout=20)
        await ws.send("done")
        assert await asyncio.wait_for(ws.recv(), 10) == f"{count} {count * MAX_MESSAGE_SIZE}"


# -- graceful shutdown -----------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_drains_connections_and_runs_handler_cleanup(
    serve_server: ServerProcess, tmp_path: Path, sig: int
) -> None:
    marker = tmp_path / "cleanup.txt"
    async with (
        connect(serve_server.url(f"/test/cleanup/?marker={marker}&delay=0.3")) as raw,
        connect(serve_server.url("/ws/echo/")) as demo,
    ):
        await demo.send("still here")
        assert await demo.recv() == "still here"
        started = time.monotonic()
        os.kill(serve_server.pid, sig)
        for ws in (raw, demo):
            assert await closed_with(ws) == (CloseCode.GOING_AWAY, "server shutting down")
        exit_code = await asyncio.to_thread(serve_server.proc.wait, GRACE + 5)
    assert exit_code == 0
    assert time.monotonic() - started < GRACE
    assert marker.read_text() == "1001 server shutting down"
    assert "Traceback" not in serve_server.output()


async def test_grace_cancels_handlers_that_do_not_finish(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server("serve", wsapp={"SHUTDOWN_GRACE": 1.0})
    marker = tmp_path / "cleanup.txt"
    async with connect(server.url(f"/test/cleanup/?marker={marker}&ignore=1")) as ws:
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert await closed_with(ws) == (CloseCode.GOING_AWAY, "server shutting down")
        assert not port_accepts(server.host, server.port)  # no longer listening
        exit_code = await asyncio.to_thread(server.proc.wait, 10)
    elapsed = time.monotonic() - started
    assert exit_code == 0
    assert 1.0 <= elapsed < 4.0, elapsed
    assert marker.read_text() == "cancelled after 1001 server shutting down"
    assert "Cancelling 1 applications still running after the 1.0 s shutdown grace." in (
        server.output()
    )


async def test_second_signal_ends_the_grace_at_once(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server("serve", wsapp={"SHUTDOWN_GRACE": 60.0})
    marker = tmp_path / "cleanup.txt"
    async with connect(server.url(f"/test/cleanup/?marker={marker}&ignore=1")) as ws:
        server.proc.send_signal(signal.SIGTERM)
        assert await closed_with(ws) == (CloseCode.GOING_AWAY, "server shutting down")
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.proc.wait, 10)
    assert exit_code == 0
    assert time.monotonic() - started < 3
    assert marker.read_text() == "cancelled after 1001 server shutting down"


# -- the command -----------------------------------------------------------------------------


def test_start_up_logs_the_address_and_effective_settings(serve_server: ServerProcess) -> None:
    assert (
        f"wsapp serve listening on 127.0.0.1:{serve_server.port}; MAX_MESSAGE_SIZE=65536 "
        "MAX_QUEUE=8 PING_INTERVAL=20 PING_TIMEOUT=10 COMPRESSION=True MAX_SEND_BUFFER=1048576 "
        "SHUTDOWN_GRACE=5.0 MAX_QUEUE_BYTES=1048576 MAX_FRAGMENTS=1024 "
        "CONTROL_FRAME_RATE='10/s burst 50' MAX_INFLATE_RATE=4194304 HANDSHAKE_TIMEOUT=10.0 "
        "CONNECT_TIMEOUT=10.0 MAX_PENDING_HANDSHAKES=512"
    ) in serve_server.output()


async def test_client_disconnects_log_no_traceback(serve_server: ServerProcess) -> None:
    async with connect(serve_server.url("/ws/echo/")) as ws:
        await ws.send("bye")
        await ws.recv()
    abrupt = await connect(serve_server.url("/test/echo/"))
    abrupt.transport.abort()  # TCP reset, no close frame
    # Daphne reaps finished applications once a second: a window for a traceback that must not
    # come (nothing to wait for), stretched with the machine.
    await asyncio.sleep(scaled(1.5))
    assert "Traceback" not in serve_server.output()


def run_to_exit(argv: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    """Run a ``serve`` that must refuse to start, with the e2e settings; its exit and output."""
    return subprocess.run(
        argv,
        cwd=PROJECT_ROOT,
        env=server_env("tests.e2e.settings_serve", database_url),
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bind", "nonsense"], "--bind 'nonsense' is not HOST:PORT, [IPv6]:PORT or unix:PATH"),
        (["--port", "70000"], "70000 is not a port number (0-65535)."),
        (["--shutdown-grace", "-1"], "--shutdown-grace must be ≥ 0 seconds, got -1.0."),
    ],
    ids=["bind", "port", "grace"],
)
def test_bad_options_are_command_errors(
    e2e_database_url: str, args: list[str], message: str
) -> None:
    result = run_to_exit([sys.executable, "manage.py", "serve", *args], e2e_database_url)
    assert result.returncode == 1
    assert f"CommandError: {message}" in result.stderr


def test_port_in_use_is_a_command_error(serve_server: ServerProcess, e2e_database_url: str) -> None:
    result = run_to_exit(serve_command(serve_server.port), e2e_database_url)
    assert result.returncode == 1
    assert f"CommandError: Could not listen on tcp:port={serve_server.port}" in result.stderr


def test_http_is_served_too(serve_server: ServerProcess) -> None:
    with urlopen(serve_server.url("/accounts/login/", scheme="http"), timeout=10) as response:
        assert response.status == 200
        assert response.headers["Server"] == "wsapp"


# -- plain Daphne ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("application", "path"),
    [("config.asgi:application", "/ws/echo/"), ("tests.e2e.asgi_apps:application", "/test/echo/")],
    ids=["demo", "raw"],
)
async def test_plain_daphne_still_serves_the_same_app(
    start_server: StartServer, application: str, path: str
) -> None:
    server = start_server("daphne", application=application)
    async with connect(server.url(path)) as ws:
        assert headers(ws).get("Sec-WebSocket-Extensions") is None  # Daphne: none
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"
