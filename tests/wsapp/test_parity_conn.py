"""Connection-level parity with Starlette, Sanic, Quart, BlackSheep and ``websockets`` (issue 11):
the exceptions ported code catches, ``ws.path_params`` for handlers that take only ``ws``, the
test session's ``client_state`` and ``receive_json`` order, ``receive_data()``, and rate-limit
notices in the endpoint's own protocol. The handlers are :mod:`tests.routing_parity`'s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.routing_parity import starlette_json, urlpatterns
from tests.wsapp.helpers import TIMEOUT, raw_connect
from wsapp import connection, routing
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket, WebSocketState
from wsapp.exceptions import (
    CloseConnection,
    InvalidPayload,
    InvalidStateError,
    UnsupportedData,
)
from wsapp.limits import RATE_LIMITED_FRAME
from wsapp.routing import Router
from wsapp.testing import (
    AsyncWebSocketClient,
    AsyncWebSocketSession,
    HandshakeRejected,
    WebSocketTestClient,
)

RATE_LIMITED = json.loads(RATE_LIMITED_FRAME)


@pytest.fixture
def client() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(Router(urlpatterns), timeout=TIMEOUT)


async def send(ws: AsyncWebSocketSession, frame: str | bytes | Any) -> None:
    """Send ``str`` as a text frame, ``bytes`` as a binary one, anything else as JSON."""
    if isinstance(frame, str):
        await ws.send_text(frame)
    elif isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_json(frame)


async def exchange(ws: AsyncWebSocketSession, frame: str | bytes | Any) -> Any:
    """Send one frame and return the reply: text decoded as JSON when it is JSON, binary as
    it is."""
    await send(ws, frame)
    reply = await ws.receive()
    if reply.get("text") is None:
        return reply["bytes"]
    try:
        return json.loads(reply["text"])
    except ValueError:
        return reply["text"]


# -- 1. exceptions that match ported code -------------------------------------------------------


def test_frame_errors_are_also_the_builtins_ported_code_catches() -> None:
    assert issubclass(InvalidPayload, ValueError) and issubclass(InvalidPayload, CloseConnection)
    assert issubclass(UnsupportedData, TypeError) and issubclass(UnsupportedData, CloseConnection)
    assert issubclass(InvalidStateError, RuntimeError)
    # Their close codes are what an uncaught one still closes with.
    assert (InvalidPayload.code, UnsupportedData.code) == (
        CloseCode.INVALID_PAYLOAD,
        CloseCode.UNSUPPORTED_DATA,
    )


IDIOMS = {
    "starlette-except-ValueError": (
        "/parity/starlette/",
        [
            ("not json", {"error": "invalid json", "detail": "InvalidPayload"}),
            ({"a": 1}, {"echo": {"a": 1}}),
        ],
    ),
    "sanic-except-TypeError": (
        "/parity/sanic/",
        [(b"\x00", "text frames only"), ("hi", "got hi")],
    ),
    "quart-except-TypeError-ValueError": (
        "/parity/quart/",
        [
            ("nope", {"error": "ValueError"}),
            (b"{}", {"error": "TypeError"}),
            ({"a": 1}, {"echo": {"a": 1}}),
        ],
    ),
    "blacksheep-binary-except-ValueError": (
        "/parity/blacksheep/",
        [(b"nope", b'{"error": "invalid json"}'), (b'{"a":1}', b'{"echo":{"a":1}}')],
    ),
    "websockets-recv-except-ValueError": (
        "/parity/websockets/",
        [
            ("nope", {"type": "error", "message": "JSONDecodeError"}),
            ("\ud800", {"type": "error", "message": "InvalidPayload"}),  # not UTF-8
            (b'{"a": 1}', {"type": "echo", "event": {"a": 1}}),
        ],
    ),
}


@pytest.mark.parametrize(("route", "exchanges"), IDIOMS.values(), ids=IDIOMS.keys())
async def test_a_caught_frame_error_is_answered_and_the_socket_stays_open(
    client, route, exchanges
) -> None:
    async with client.websocket_connect(route) as ws:
        for sent, expected in exchanges:
            assert await exchange(ws, sent) == expected
        assert ws.client_state is WebSocketState.CONNECTED and ws.close_code is None


async def test_a_caught_state_error_is_a_runtime_error(client) -> None:
    async with client.websocket_connect("/parity/state/") as ws:
        assert await ws.receive_json() == {"error": "InvalidStateError", "open": True}
        assert await exchange(ws, "still here") == "still here"


@pytest.mark.parametrize(
    ("route", "sent", "closed"),
    [
        ("/parity/uncaught/", "nope", (CloseCode.INVALID_PAYLOAD, "Invalid JSON: ")),
        (
            "/parity/uncaught/",
            b"{}",
            (CloseCode.UNSUPPORTED_DATA, "Expected a text frame, got a binary frame."),
        ),
        (
            "/parity/blacksheep/",  # catches ValueError only: a text frame is a TypeError
            "{}",
            (CloseCode.UNSUPPORTED_DATA, "Expected a binary frame, got a text frame."),
        ),
    ],
    ids=["bad-json-1007", "binary-1003", "uncaught-TypeError-1003"],
)
async def test_an_uncaught_frame_error_still_closes_with_its_code(
    client, route, sent, closed
) -> None:
    ws = await client.websocket_connect(route).connect()
    await (ws.send_text(sent) if isinstance(sent, str) else ws.send_bytes(sent))
    code, reason = await ws.wait_closed()
    assert (code, reason[: len(closed[1])]) == closed


@pytest.fixture
def three_invalid(settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_INVALID_FRAMES": 3}


async def test_caught_refusals_still_meet_max_invalid_frames(client, three_invalid) -> None:
    """Catching every ValueError does not let a client send bad frames for ever: the third in a
    row is answered (the handler caught it), and the next receive closes with 4400."""
    ws = await client.websocket_connect("/parity/starlette/").connect()
    for _ in range(3):
        assert await exchange(ws, "bad") == {"error": "invalid json", "detail": "InvalidPayload"}
    assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "3 malformed messages in a row.")


async def test_a_good_frame_restarts_the_count(client, three_invalid) -> None:
    sent = ["bad", b"bad", {"ok": 1}, "bad", b"bad", {"ok": 2}]
    expected = [{"error": "ValueError"}, {"error": "TypeError"}, {"echo": {"ok": 1}}] * 2
    expected[-1] = {"echo": {"ok": 2}}
    async with client.websocket_connect("/parity/quart/") as ws:
        assert [await exchange(ws, frame) for frame in sent] == expected
        assert ws.client_state is WebSocketState.CONNECTED


async def test_caught_frames_that_are_not_utf8_still_meet_the_rate_limit(
    client, settings, monkeypatch
) -> None:
    """Counted and limited before they are refused: a handler that reads on after each one
    still sees a flood of them dropped."""
    settings.WSAPP = {**settings.WSAPP, "RATE_LIMIT": "1/h burst 2", "RATE_LIMIT_GRACE": 60}
    clock = [1000.0]
    monkeypatch.setattr(connection, "_now", lambda: clock[0])
    async with client.websocket_connect("/parity/websockets/") as ws:
        for _ in range(4):
            await ws.send_text("\ud800")
        error = {"type": "error", "message": "InvalidPayload"}
        assert [await ws.receive_json() for _ in range(2)] == [error, error]
        clock[0] += 7200  # the bucket refills: the next frame passes
        assert await exchange(ws, b"[1]") == {"type": "echo", "event": [1]}  # two were dropped


# -- 2. handlers that take only ws ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/parity/endpoint/lobby/7/", {"path_params": {"room": "lobby", "n": 7}}),
        (
            "/parity/names-one/lobby/7/",
            {"room": "lobby", "path_params": {"room": "lobby", "n": 7}},
        ),
        (
            "/parity/takes-all/lobby/",
            {"args": [], "params": {"room": "lobby", "flavour": "vanilla"}},
        ),
        ("/parity/positional/42/", {"path_params": {}}),
        ("/parity/positional-all/42/", {"args": ["42"], "params": {}}),
    ],
    ids=["only-ws", "one-by-name", "var-keywords", "only-ws-positional", "var-positional"],
)
async def test_a_handler_gets_the_parameters_its_signature_takes(client, url, expected) -> None:
    async with client.websocket_connect(url) as ws:
        assert await ws.receive_json() == expected


async def test_the_signature_is_read_once_per_route(monkeypatch) -> None:
    calls: list[Any] = []
    read = routing._accepted_params

    def counted(handler: Any) -> Any:
        calls.append(handler)
        return read(handler)

    monkeypatch.setattr(routing, "_accepted_params", counted)
    router = Router([routing.path("r/<slug:room>/", starlette_json)])
    client = AsyncWebSocketClient(router, timeout=TIMEOUT)
    for _ in range(3):
        async with client.websocket_connect("/r/x/") as ws:
            assert await exchange(ws, {"n": 1}) == {"echo": {"n": 1}}
    assert len(calls) == 1


# -- 3. the test session's client_state and receive_json ------------------------------------------


async def test_the_async_sessions_client_state_follows_the_connection(client) -> None:
    session = client.websocket_connect("/parity/uncaught/")
    assert session.client_state is WebSocketState.CONNECTING
    await session.connect()
    assert session.client_state is WebSocketState.CONNECTED
    await session.send_text("nope")
    await session.wait_closed()  # the application closed (1007)
    assert session.client_state is WebSocketState.DISCONNECTED

    closed_by_us = await client.websocket_connect("/parity/plain/").connect()
    await closed_by_us.close()
    assert closed_by_us.client_state is WebSocketState.DISCONNECTED


async def test_a_refused_handshake_leaves_the_session_disconnected() -> None:
    async def refuse(ws: WebSocket) -> None:
        await ws.close()

    session = raw_connect(refuse)
    with pytest.raises(HandshakeRejected):
        await session.connect()
    assert session.client_state is WebSocketState.DISCONNECTED


def test_the_sync_sessions_client_state_follows_the_connection() -> None:
    with WebSocketTestClient(Router(urlpatterns), timeout=TIMEOUT) as client:
        with client.websocket_connect("/parity/plain/") as ws:
            assert ws.client_state is WebSocketState.CONNECTED
            ws.send_text("x")
            assert ws.receive_text() == "x"
        assert ws.client_state is WebSocketState.DISCONNECTED


async def test_the_sessions_receive_json_takes_the_connections_arguments(client) -> None:
    async with client.websocket_connect("/parity/binary-json/") as ws:
        await ws.send_json({"type": "echo", "n": 1}, mode="binary")
        assert await ws.receive_json("binary", None, TIMEOUT) == {"type": "echo", "n": 1}
        await ws.send_json({"type": "echo", "n": 2}, mode="binary")
        tagged = await ws.receive_json(mode="binary", loads=lambda raw: ("loaded", raw))
        assert tagged == ("loaded", b'{"type":"echo","n":2}')
        await ws.send_json({"type": "echo", "n": 3}, mode="binary")
        # The old keyword still works; a number where the mode goes is refused, not read as a
        # mode, and the frame is still there for the next call.
        with pytest.raises(TypeError, match=r"pass timeout=2\.0"):
            await ws.receive_json(2.0)  # type: ignore[arg-type]
        assert await ws.receive_json(timeout=TIMEOUT, mode="binary") == {"type": "echo", "n": 3}


def test_the_sync_sessions_receive_json_takes_the_connections_arguments() -> None:
    with WebSocketTestClient(Router(urlpatterns), timeout=TIMEOUT) as client:
        with client.websocket_connect("/parity/json/") as ws:
            ws.send_json({"type": "echo"})
            assert ws.receive_json("text", json.loads, TIMEOUT) == {"type": "echo"}
            with pytest.raises(TypeError):
                ws.receive_json(1)


# -- 4. receive() is the ASGI event; receive_data() is websockets' recv() -------------------------


async def test_receive_data_returns_text_as_str_and_binary_as_bytes() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive_data())
        got.append(await ws.receive_data(timeout=TIMEOUT))
        got.append(await ws.receive())
        await ws.close()

    session = await raw_connect(handler).connect()
    await session.send_text("héllo")
    await session.send_bytes(b"\x00")
    await session.send_text("raw")
    await session.wait_closed()
    assert got == ["héllo", b"\x00", {"type": "websocket.receive", "text": "raw"}]


# -- 5. rate-limit notices in the endpoint's protocol ---------------------------------------------


@pytest.fixture
def limited(settings, monkeypatch) -> list[float]:
    """Two frames, then nothing for an hour (the returned clock moves it on)."""
    settings.WSAPP = {**settings.WSAPP, "RATE_LIMIT": "1/h burst 2", "RATE_LIMIT_GRACE": 60}
    clock = [1000.0]
    monkeypatch.setattr(connection, "_now", lambda: clock[0])
    return clock


FLOODS = {
    "plain-handler-nothing": ("/parity/plain/", "hi", None),
    "plain-handler-own-notice": ("/parity/noticed/", "hi", "slow down"),
    "consumer-json": ("/parity/json/", {"type": "echo"}, RATE_LIMITED_FRAME),
    "binary-consumer": ("/parity/binary-json/", b'{"type":"echo"}', RATE_LIMITED_FRAME.encode()),
}


@pytest.mark.parametrize(("route", "frame", "notice"), FLOODS.values(), ids=FLOODS.keys())
async def test_a_dropped_message_is_answered_in_the_endpoints_protocol(
    client, limited, route, frame, notice
) -> None:
    async with client.websocket_connect(route) as ws:
        for _ in range(3):  # the third is over the limit
            await send(ws, frame)
        replies = [await ws.receive() for _ in range(2)]
        assert [r.get("text") or r.get("bytes") for r in replies] == [echoed(frame)] * 2
        if notice is None:
            limited[0] += 7200  # the bucket refills: the next frame passes
            await ws.send_text("later")
            notice = "later"  # the next frame is its echo: the drop was answered by nothing
        reply = await ws.receive()
        assert (reply.get("text") or reply.get("bytes")) == notice


def echoed(frame: Any) -> str | bytes:
    return frame if isinstance(frame, str | bytes) else json.dumps(frame, separators=(",", ":"))
