"""Server parity (issue 11) over real sockets: ``manage.py serve`` and plain Daphne.

The handlers are :mod:`tests.e2e.parity_apps` (``/parity/...``, served by the
``tests.e2e.settings_parity`` settings); ``/test/echo/`` is :mod:`tests.e2e.asgi_apps`'. Raw
clients (:mod:`tests.security.rawws`) read the HTTP responses byte for byte and play the client
that vanishes without a close; the ``websockets`` client plays an ordinary one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response

from tests.e2e.servers import ServerProcess, StartServer
from tests.security.conftest import raw  # noqa: F401  (the raw-socket fixture)
from tests.security.rawws import RawClient, RawClients, frame, upgrade_request
from tests.support.timing import scaled, wait_until
from wsapp.codes import CloseCode

pytestmark = pytest.mark.e2e

SETTINGS = "tests.e2e.settings_parity"
APPLICATION = "tests.e2e.parity_apps:application"
KEEPALIVE = {"PING_INTERVAL": 1, "PING_TIMEOUT": 1}
OPCODE_TEXT, OPCODE_PING = 0x1, 0x9


def start(start_server: StartServer, kind: str, **wsapp: object) -> ServerProcess:
    """``serve`` (with ``wsapp`` settings) or plain ``daphne`` (the same keepalive, by option)."""
    if kind == "serve":
        return start_server("serve", settings=SETTINGS, wsapp=wsapp)
    options = []
    if "PING_INTERVAL" in wsapp:
        options = ["--ping-interval", str(wsapp["PING_INTERVAL"])]
        options += ["--ping-timeout", str(wsapp["PING_TIMEOUT"])]
    return start_server("daphne", *options, settings=SETTINGS, application=APPLICATION)


async def raw_upgrade(
    clients: RawClients, server: ServerProcess, path: str, headers: str = ""
) -> RawClient:
    client = await clients.connect(server.host, server.port)
    await client.send(upgrade_request(path, headers))
    return client


async def refused(url: str) -> Response:
    """The HTTP response a client library gets from a handshake the server refuses."""
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, open_timeout=scaled(20)):
            pass
    return caught.value.response


async def read_response(client: RawClient) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(client.reader.read(), scaled(10))


# -- a disconnect is never silent -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("serve", "silent"),
        ("daphne", "silent"),
        ("serve", "silent-after-a-frame"),
        ("serve", "reset"),
        ("daphne", "reset"),
    ],
    ids=lambda value: value,
)
async def test_send_only_handler_ends_when_the_client_vanishes(
    start_server: StartServer,
    raw: RawClients,  # noqa: F811
    tmp_path: Path,
    kind: str,
    how: str,
) -> None:
    server = start(start_server, kind, **KEEPALIVE)
    marker = tmp_path / "ended.txt"
    client = await raw_upgrade(raw, server, f"/parity/send-only/?marker={marker}")
    head = await client.read_head()
    assert head.startswith(b"HTTP/1.1 101 ")
    if how == "silent-after-a-frame":
        # A frame the handler never reads: the disconnect queues behind it, and only serve's
        # disconnect probe (wsapp.disconnect) can tell the handler.
        await client.send(frame(OPCODE_TEXT, b"hello?"))
    if how == "reset":
        client.abort()  # a TCP reset, no close frame
    # Otherwise the client reads nothing and answers no ping: it has vanished, no close frame,
    # no FIN. The keepalive drops it. Either way the handler's next send raises.
    await wait_until(marker.exists, 15, "the send-only handler's finally", detail=server.output)
    assert marker.read_text() == f"disconnect {CloseCode.ABNORMAL_CLOSURE}"
    assert "Traceback" not in server.output()
    assert "took too long to shut down" not in server.output()


@pytest.mark.parametrize("kind", ["serve", "daphne"])
async def test_a_send_after_the_client_closed_raises(
    start_server: StartServer, tmp_path: Path, kind: str
) -> None:
    server = start(start_server, kind)
    marker = tmp_path / "ended.txt"
    async with connect(server.url(f"/parity/send-only/?marker={marker}")) as ws:
        assert await ws.recv() == "tick"
    await wait_until(marker.exists, 10, "the send-only handler's finally", detail=server.output)
    assert marker.read_text() == f"disconnect {CloseCode.NORMAL_CLOSURE}"
    assert "Traceback" not in server.output()


# -- HTTP denial responses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "response"),
    [
        (
            "/parity/deny/?status=418",
            b"HTTP/1.1 418 I'm a Teapot\r\nServer: wsapp\r\nx-parity: yes\r\n"
            b"content-type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
            b"Connection: close\r\n\r\nnope\n",
        ),
        (  # three body events, the app's Server header, its wrong Content-Length replaced
            "/parity/deny-in-chunks/",
            b"HTTP/1.1 403 Forbidden\r\nServer: custom/1.0\r\nContent-Length: 7\r\n"
            b"Connection: close\r\n\r\nnot you",
        ),
    ],
    ids=["deny", "in-chunks"],
)
async def test_deny_sends_the_applications_response_under_serve(
    start_server: StartServer,
    raw: RawClients,  # noqa: F811
    path: str,
    response: bytes,
) -> None:
    server = start(start_server, "serve")
    client = await raw_upgrade(raw, server, path)
    assert await read_response(client) == response
    assert "Traceback" not in server.output()


async def test_a_client_library_sees_the_denial(start_server: StartServer) -> None:
    server = start(start_server, "serve")
    response = await refused(server.url("/parity/deny/?status=429"))
    assert (response.status_code, response.headers["X-Parity"], response.body) == (
        429,
        "yes",
        b"nope\n",
    )


async def test_deny_under_plain_daphne_is_a_403(start_server: StartServer) -> None:
    server = start(start_server, "daphne")
    response = await refused(server.url("/parity/deny/?status=401"))
    assert (response.status_code, response.body) == (403, b"")


async def test_basic_auth_challenges_then_admits_under_serve(start_server: StartServer) -> None:
    server = start(start_server, "serve")
    response = await refused(server.url("/parity/basic/"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="parity", charset="UTF-8"'
    token = base64.b64encode(b"ada:s3cret").decode()
    async with connect(
        server.url("/parity/basic/"), additional_headers={"Authorization": f"Basic {token}"}
    ) as ws:
        assert await ws.recv() == "hello ada"


# -- handshake headers and timeouts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "server_header"),
    [("/parity/server-header/", b"custom/1.0"), ("/test/echo/", b"wsapp")],
    ids=["the-applications", "the-servers"],
)
async def test_accept_sends_exactly_one_server_header(
    start_server: StartServer,
    raw: RawClients,  # noqa: F811
    path: str,
    server_header: bytes,
) -> None:
    server = start(start_server, "serve")
    client = await raw_upgrade(raw, server, path)
    head = await client.read_head()
    assert head.startswith(b"HTTP/1.1 101 ")
    servers = [line for line in head.split(b"\r\n") if line.lower().startswith(b"server:")]
    assert servers == [b"Server: " + server_header]


async def test_ping_interval_none_sends_no_keepalive_pings(
    start_server: StartServer,
    raw: RawClients,  # noqa: F811
) -> None:
    server = start(start_server, "serve", PING_INTERVAL=None, PING_TIMEOUT=1)
    assert "PING_INTERVAL=None " in server.output()
    client = await raw_upgrade(raw, server, "/test/echo/")
    assert (await client.read_head()).startswith(b"HTTP/1.1 101 ")
    # With PING_INTERVAL 1 a ping would come within ~3 s (Daphne checks every 2 s) and, left
    # unanswered, drop the client one PING_TIMEOUT later; here nothing comes at all.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.reader.read(1), scaled(4))
    await client.send(frame(OPCODE_TEXT, b"still here"))
    echoed = await client.read_frame()
    assert (echoed.opcode, echoed.payload) == (OPCODE_TEXT, b"still here")


async def test_an_application_slower_than_connect_timeout_gets_503(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start(start_server, "serve", CONNECT_TIMEOUT=1)
    assert "CONNECT_TIMEOUT=1 " in server.output()
    marker = tmp_path / "ended.txt"
    response = await refused(server.url(f"/parity/slow-accept/?marker={marker}"))
    assert response.status_code == 503
    await wait_until(marker.exists, 10, "the slow handler to learn the client is gone")
    assert marker.read_text() == f"gone {CloseCode.ABNORMAL_CLOSURE}"
    assert "not accepted within CONNECT_TIMEOUT=1 s: 503." in server.output()
    assert "Traceback" not in server.output()


# -- last words on shutdown -------------------------------------------------------------------


@pytest.mark.parametrize("hang", [False, True], ids=["returns", "hangs-past-the-grace"])
async def test_sigterm_lets_a_handler_say_goodbye_before_the_1001(
    start_server: StartServer, tmp_path: Path, hang: bool
) -> None:
    server = start(start_server, "serve", SHUTDOWN_GRACE=1.0 if hang else 5.0)
    marker = tmp_path / "ended.txt"
    query = f"marker={marker}" + ("&hang=1" if hang else "")
    async with connect(server.url(f"/parity/farewell/?{query}")) as ws:
        await ws.send("ready?")
        assert await ws.recv() == "ready"  # the callback is registered
        server.proc.send_signal(signal.SIGTERM)
        assert json.loads(await asyncio.wait_for(ws.recv(), scaled(10))) == {
            "type": "server.shutdown"
        }
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), scaled(10))
        assert (ws.close_code, ws.close_reason) == (CloseCode.GOING_AWAY, "server shutting down")
        assert await asyncio.to_thread(server.proc.wait, scaled(15)) == 0
    assert marker.read_text() == f"closed {CloseCode.GOING_AWAY} server shutting down"
    if hang:  # the grace bounds the callbacks too: cancelled, and the 1001 still went out
        assert "Cancelled 1 shutdown callbacks still running." in server.output()
    else:
        assert "Shutting down: ran 1 on_shutdown callbacks." in server.output()
    assert "Traceback" not in server.output()
