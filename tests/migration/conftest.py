"""Every ported example runs twice: in-process over ``wsapp.testing``, and against a real
``manage.py serve`` process over a real socket (the ``websockets`` client).

A test asks for ``connect(path, ...)`` and gets a :class:`Peer`, the same few calls in both
modes; a refused handshake raises :class:`Refused` with what an HTTP client reads (status,
headers, body). The ``mode`` fixture is the two modes; a test whose feature one mode lacks
overrides it with :func:`modes`. One server serves the whole package (started on first use,
killed at the end of the session): the examples keep no state a test depends on, except the
tally that tests read through ``/stats/`` before and after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from tests.e2e.servers import (
    DEFAULT_SETTINGS,
    ServerProcess,
    migrate,
    running_server,
    serve_command,
    server_env,
)
from tests.support.timing import scaled
from wsapp import WebSocketDisconnect
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession, HandshakeRejected

#: The serve process's WSAPP_E2E: its routes are the ports (tests.e2e.settings_serve has the rest,
#: MAX_MESSAGE_SIZE 64 KiB among them; the in-process mode uses the same limit).
ROUTING = "tests.migration.routing"
SERVE_WSAPP = {"ROUTING": ROUTING}
MAX_MESSAGE_SIZE = 64 * 1024
FRAME_TIMEOUT = 10.0


class Refused(Exception):
    """The handshake was answered with an HTTP response instead of a 101."""

    def __init__(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body
        super().__init__(status, self.headers, body)


class Peer:
    """One client connection, in-process or over a real socket."""

    subprotocol: str | None
    headers: Mapping[str, str]  # the handshake response's, names in lower case

    async def send(self, data: str | bytes) -> None:
        raise NotImplementedError

    async def recv(self) -> str | bytes:
        raise NotImplementedError

    async def close(self, code: int = 1000) -> None:
        raise NotImplementedError

    async def closed(self) -> tuple[int | None, str]:
        """Wait for the server's close frame; a data frame before it fails the test."""
        raise NotImplementedError

    async def send_json(self, data: Any) -> None:
        await self.send(json.dumps(data))

    async def recv_json(self) -> Any:
        frame = await self.recv()
        assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
        return json.loads(frame)


class InProcessPeer(Peer):
    def __init__(self, session: AsyncWebSocketSession) -> None:
        self.session = session
        self.subprotocol = session.subprotocol
        self.headers = {k.decode().lower(): v.decode() for k, v in session.accept_headers}

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            await self.session.send_text(data)
        else:
            await self.session.send_bytes(data)

    async def recv(self) -> str | bytes:
        message = await self.session.receive(scaled(FRAME_TIMEOUT))
        text = message.get("text")
        return (message.get("bytes") or b"") if text is None else text

    async def close(self, code: int = 1000) -> None:
        await self.session.close(code)

    async def closed(self) -> tuple[int | None, str]:
        try:
            frame = await self.recv()
        except WebSocketDisconnect as exc:
            return exc.code, exc.reason
        raise AssertionError(f"expected the server to close, got {frame!r}")


class ServedPeer(Peer):
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.subprotocol = ws.subprotocol
        assert ws.response is not None
        self.headers = {k.lower(): v for k, v in ws.response.headers.raw_items()}

    async def send(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self) -> str | bytes:
        try:
            return await asyncio.wait_for(self.ws.recv(), scaled(FRAME_TIMEOUT))
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise WebSocketDisconnect(
                rcvd.code if rcvd else 1006, rcvd.reason if rcvd else ""
            ) from None

    async def close(self, code: int = 1000) -> None:
        await self.ws.close(code)

    async def closed(self) -> tuple[int | None, str]:
        try:
            frame = await self.recv()
        except WebSocketDisconnect:
            return self.ws.close_code, self.ws.close_reason or ""
        raise AssertionError(f"expected the server to close, got {frame!r}")


Connect = Callable[..., Awaitable[Peer]]


class ErrorLog(logging.Handler):
    """The errors wsapp logs while a test runs (a handler that crashed logs one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def modes() -> list[Any]:
    """The two modes every port runs in: in-process, and against a real ``manage.py serve``."""
    return [
        pytest.param("inprocess", id="inprocess"),
        pytest.param("serve", marks=pytest.mark.e2e, id="serve"),
    ]


@pytest.fixture(params=modes())
def mode(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


UNHANDLED = re.compile(r"Unhandled exception in .+ for (\S+)")


@pytest.fixture(scope="session")
def migration_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``manage.py serve`` with the ports as its routing table, on a migrated SQLite file.

    At the end, the server's log shows no crash: every port ended with a close code, never a
    traceback.
    """
    root = tmp_path_factory.mktemp("migration-serve")
    database_url = f"sqlite:///{root / 'db.sqlite3'}"
    migrate(database_url)
    env = server_env(DEFAULT_SETTINGS, database_url, {"WSAPP_E2E": json.dumps(SERVE_WSAPP)})
    with running_server(serve_command, env, root / "serve.log") as server:
        yield server
    output = server.output()
    assert not UNHANDLED.findall(output), output
    assert "Exception inside application" not in output, output


@pytest.fixture
def server(mode: str, request: pytest.FixtureRequest, settings: Any) -> ServerProcess | None:
    """The serve process in "serve" mode; in-process, ``None`` and the same routes and limit."""
    if mode == "serve":
        return request.getfixturevalue("migration_server")  # type: ignore[no-any-return]
    settings.WSAPP = {**settings.WSAPP, "ROUTING": ROUTING, "MAX_MESSAGE_SIZE": MAX_MESSAGE_SIZE}
    return None


@pytest_asyncio.fixture
async def connect(
    hub_teardown: None,
    server: ServerProcess | None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Connect]:
    """``await connect(path, headers=..., subprotocols=..., user=...)`` → a :class:`Peer`;
    every peer is closed when the test ends (before the hub stops: fixtures tear down in
    reverse). ``user`` (in-process only) signs the socket in.

    In-process, a port logs no error: whatever a test sends it, each handler ends with a close
    code, never a traceback."""
    if server is not None:
        opened: list[ClientConnection] = []

        async def dial(
            path: str, *, headers: Mapping[str, str] | None = None, subprotocols: Sequence[str] = ()
        ) -> Peer:
            try:
                ws = await ws_connect(
                    server.url(path),
                    additional_headers=dict(headers or {}),
                    subprotocols=[Subprotocol(p) for p in subprotocols] or None,
                    proxy=None,
                    open_timeout=scaled(FRAME_TIMEOUT),
                )
            except InvalidStatus as exc:
                response = exc.response
                raise Refused(
                    response.status_code, list(response.headers.raw_items()), response.body or b""
                ) from None
            opened.append(ws)
            return ServedPeer(ws)

        yield dial
        for ws in opened:
            await ws.close()
        return

    client = AsyncWebSocketClient()
    sessions: list[AsyncWebSocketSession] = []

    async def open_session(
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] = (),
        user: Any = None,
    ) -> Peer:
        session = client.websocket_connect(
            path, headers=headers, subprotocols=subprotocols, user=user
        )
        sessions.append(session)
        try:
            await session.connect()
        except HandshakeRejected as exc:
            # What a real client reads (issue 11): the status, headers and body of the response.
            raise Refused(exc.status_code, exc.headers, exc.body) from None
        return InProcessPeer(session)

    errors = ErrorLog()
    logging.getLogger("wsapp").addHandler(errors)
    try:
        yield open_session
        for session in sessions:
            await session.close()
    finally:
        logging.getLogger("wsapp").removeHandler(errors)
    assert not errors.records, [record.getMessage() for record in errors.records]


async def read_stats(connect: Connect) -> dict[str, int]:
    """The server process's tally of what the ported handlers did."""
    peer = await connect("/stats/")
    tally = await peer.recv_json()
    assert await peer.closed() == (1000, "")
    return tally  # type: ignore[no-any-return]
