"""``wsapp.WebSocket``: handshake data, states, the send/receive matrix, JSON, limits, ping.

Modelled on Starlette's ``tests/test_websockets.py``: one behaviour per test, exact close codes
(``CloseCode``), exact payloads and messages. Handlers run either behind a one-route ``Router``
(so DESIGN.md's close policy applies) or as raw ASGI apps that build the ``WebSocket`` themselves.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict
from django.test import override_settings

import wsapp
from tests.wsapp.helpers import FakeServer, connect, raw_connect, route, websocket_scope
from wsapp.codes import CloseCode
from wsapp.connection import Address, WebSocket, WebSocketState
from wsapp.exceptions import (
    InvalidPayload,
    InvalidStateError,
    NotSupported,
    UnsupportedData,
    WebSocketDisconnect,
)
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected
from wsapp.types import SEND_EXTENSION

CONNECTING = WebSocketState.CONNECTING
CONNECTED = WebSocketState.CONNECTED
DISCONNECTED = WebSocketState.DISCONNECTED


def upper_dumps(data: Any) -> str:
    """A custom codec for the ``JSON_DUMPS`` setting."""
    import json

    return json.dumps(data).upper()


def tagged_loads(raw: str | bytes) -> Any:
    """A custom codec for the ``JSON_LOADS`` setting."""
    import json

    return {"loaded": json.loads(raw)}


# -- handshake data ---------------------------------------------------------------------------


async def test_path_params_arrive_converted() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: WebSocket, **params: Any) -> None:
        seen["params"], seen["path_params"] = params, ws.path_params
        await ws.accept()

    app = route(handler, "ws/<int:n>/<slug:room>/<uuid:key>/")
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    async with AsyncWebSocketClient(app).websocket_connect(f"/ws/7/lobby/{key}/") as ws:
        await ws.wait_closed()
    expected = {"n": 7, "room": "lobby", "key": key}
    assert seen == {"params": expected, "path_params": expected}


async def test_path_is_the_request_path() -> None:
    seen: list[str] = []

    async def handler(ws: WebSocket, n: int) -> None:
        seen.append(ws.path)
        await ws.accept()

    async with AsyncWebSocketClient(route(handler, "ws/<int:n>/")).websocket_connect("/ws/3/?a=1"):
        pass
    assert seen == ["/ws/3/"]


async def test_query_params_is_a_multi_valued_querydict() -> None:
    seen: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.query_params)
        await ws.accept()

    async with connect(handler, "/ws/?tag=a&tag=b&since=17&name=%C3%A9"):
        pass
    [params] = seen
    assert isinstance(params, QueryDict)
    assert params.getlist("tag") == ["a", "b"]
    assert params["since"] == "17"
    assert params["name"] == "é"


async def test_headers_are_case_insensitive_and_repeated_ones_joined() -> None:
    seen: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.headers)
        await ws.accept()

    session = connect(handler, headers={"X-Trace": "abc"})
    session.scope["headers"].append((b"x-multi", b"one"))
    session.scope["headers"].append((b"x-multi", b"two"))
    async with session:
        pass
    [headers] = seen
    assert headers["x-trace"] == headers["X-TRACE"] == "abc"
    assert headers["X-Multi"] == "one, two"
    assert headers["host"] == "testserver"


async def test_cookies_are_parsed_from_the_cookie_header() -> None:
    seen: list[dict[str, str]] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.cookies)
        await ws.accept()

    async with connect(handler, headers={"Cookie": "sessionid=abc; theme=dark"}):
        pass
    assert seen == [{"sessionid": "abc", "theme": "dark"}]


async def test_cookies_are_empty_without_a_cookie_header() -> None:
    seen: list[dict[str, str]] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.cookies)
        await ws.accept()

    async with connect(handler):
        pass
    assert seen == [{}]


async def test_client_is_a_typed_address() -> None:
    seen: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.client)
        await ws.accept()

    async with connect(handler, client=("10.0.0.5", 4321)):
        pass
    assert seen == [Address("10.0.0.5", 4321)]
    assert seen[0].host == "10.0.0.5" and seen[0].port == 4321


def test_client_is_none_when_the_server_gives_none() -> None:
    ws = FakeServer().socket(websocket_scope(client=None))
    assert ws.client is None


def test_user_defaults_to_anonymous_and_session_to_none() -> None:
    ws = FakeServer().socket()
    assert isinstance(ws.user, AnonymousUser)
    assert ws.session is None


async def test_user_is_the_scope_user() -> None:
    seen: list[Any] = []
    user = object()

    async def handler(ws: WebSocket) -> None:
        seen.append(ws.user)
        await ws.accept()

    async with connect(handler, user=user):
        pass
    assert seen == [user]


def test_state_is_a_namespace_per_connection() -> None:
    first, second = FakeServer().socket(), FakeServer().socket()
    first.state.room = "lobby"
    assert first.state.room == "lobby"
    assert not hasattr(second.state, "room")
    assert repr(first.state) == "State({'room': 'lobby'})"


def test_a_non_websocket_scope_is_refused() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError) as info:
        WebSocket({"type": "http", "path": "/"}, server.receive, server.send)
    assert str(info.value) == "Expected scope type \"websocket\", but got 'http'"


# -- subprotocols and accept headers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("supported", "offered", "selected"),
    [
        pytest.param(
            ["wsapp.v2", "wsapp.v1"], ["wsapp.v1", "wsapp.v2"], "wsapp.v1", id="client-order-wins"
        ),
        pytest.param(["wsapp.v1"], ["other", "wsapp.v1"], "wsapp.v1", id="first-supported-offer"),
        pytest.param(["wsapp.v1"], ["other"], None, id="no-common-protocol"),
        pytest.param(["wsapp.v1"], [], None, id="client-offers-none"),
        pytest.param([], ["wsapp.v1"], None, id="route-supports-none"),
    ],
)
async def test_accept_negotiates_the_subprotocol(
    supported: list[str], offered: list[str], selected: str | None
) -> None:
    seen: list[tuple[list[str], str | None]] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        seen.append((ws.requested_subprotocols, ws.subprotocol))

    app = route(handler, subprotocols=supported)
    async with AsyncWebSocketClient(app).websocket_connect("/ws/", subprotocols=offered) as ws:
        assert ws.subprotocol == selected
        await ws.wait_closed()
    assert seen == [(offered, selected)]


async def test_accept_with_an_explicit_subprotocol_overrides_negotiation() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chosen")

    app = route(handler, subprotocols=["wsapp.v1"])
    async with AsyncWebSocketClient(app).websocket_connect("/ws/", subprotocols=["wsapp.v1"]) as ws:
        assert ws.subprotocol == "chosen"


async def test_accept_sends_headers_given_as_a_mapping() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept(headers={"X-Server": "wsapp"})

    async with connect(handler) as ws:
        assert ws.accept_headers == [(b"x-server", b"wsapp")]


async def test_accept_sends_headers_given_as_byte_pairs() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept(headers=[(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")])

    async with connect(handler) as ws:
        assert ws.accept_headers == [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


async def test_accept_without_headers_sends_none() -> None:
    server = FakeServer()
    await server.accepted_socket()
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


async def test_send_of_an_accept_event_accepts() -> None:
    server = FakeServer()
    ws = server.socket()
    server.feed({"type": "websocket.connect"})
    await ws.send({"type": "websocket.accept", "subprotocol": "p"})
    assert server.sent == [{"type": "websocket.accept", "subprotocol": "p", "headers": []}]
    assert ws.application_state is CONNECTED


async def test_accept_twice_is_an_invalid_state() -> None:
    ws = await FakeServer().accepted_socket()
    with pytest.raises(InvalidStateError) as info:
        await ws.accept()
    assert str(info.value) == (
        "Cannot accept: the connection is WebSocketState.CONNECTED, "
        "expected WebSocketState.CONNECTING."
    )


async def test_accept_after_close_is_an_invalid_state() -> None:
    ws = await FakeServer().accepted_socket()
    await ws.close()
    with pytest.raises(InvalidStateError) as info:
        await ws.accept()
    assert (info.value.current, info.value.expected) == (DISCONNECTED, CONNECTING)


async def test_accept_when_the_client_left_during_the_handshake_raises_disconnect() -> None:
    server = FakeServer()
    ws = server.socket()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.accept()
    assert info.value.code == CloseCode.GOING_AWAY
    assert server.sent == []


async def test_a_client_that_leaves_during_the_handshake_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer()

    async def handler(ws: WebSocket) -> None:
        await ws.accept()

    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    await route(handler)(websocket_scope(), server.receive, server.send)
    assert server.sent == []
    assert [r for r in caplog.records if r.levelname in {"WARNING", "ERROR"}] == []


# -- states ------------------------------------------------------------------------------------


def test_a_new_connection_is_connecting_on_both_sides() -> None:
    ws = FakeServer().socket()
    assert (ws.client_state, ws.application_state) == (CONNECTING, CONNECTING)
    assert (ws.open, ws.closed) == (False, False)
    assert (ws.close_code, ws.close_reason) == (None, None)
    assert ws.subprotocol is None


async def test_accept_makes_both_sides_connected() -> None:
    ws = await FakeServer().accepted_socket()
    assert (ws.client_state, ws.application_state) == (CONNECTED, CONNECTED)
    assert (ws.open, ws.closed) == (True, False)


async def test_server_close_disconnects_the_application_side() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.close(CloseCode.POLICY_VIOLATION, "done")
    assert (ws.client_state, ws.application_state) == (CONNECTED, DISCONNECTED)
    assert (ws.open, ws.closed) == (False, True)
    assert (ws.close_code, ws.close_reason) == (CloseCode.POLICY_VIOLATION, "done")
    assert server.sent[-1] == {
        "type": "websocket.close",
        "code": CloseCode.POLICY_VIOLATION,
        "reason": "done",
    }


async def test_client_close_disconnects_both_sides_with_its_code_and_reason() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY, "reason": "bye"})
    assert await ws.receive() == {
        "type": "websocket.disconnect",
        "code": CloseCode.GOING_AWAY,
        "reason": "bye",
    }
    assert (ws.client_state, ws.application_state) == (DISCONNECTED, DISCONNECTED)
    assert (ws.open, ws.closed) == (False, True)
    assert (ws.close_code, ws.close_reason) == (CloseCode.GOING_AWAY, "bye")


async def test_client_close_without_a_code_is_no_status_received() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.disconnect"})
    await ws.receive()
    assert (ws.close_code, ws.close_reason) == (CloseCode.NO_STATUS_RECEIVED, "")


async def test_client_close_with_a_null_code_is_no_status_received_everywhere() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.disconnect", "code": None})
    with pytest.raises(WebSocketDisconnect) as first:
        await ws.receive_text()
    with pytest.raises(WebSocketDisconnect) as later:
        await ws.send_text("x")
    assert (ws.close_code, first.value.code, later.value.code) == (
        CloseCode.NO_STATUS_RECEIVED,
    ) * 3


async def test_close_before_accept_rejects_the_handshake() -> None:
    seen: list[WebSocket] = []

    async def handler(ws: WebSocket) -> None:
        seen.append(ws)
        await ws.close(CloseCode.POLICY_VIOLATION, "nope")

    with pytest.raises(HandshakeRejected) as info:
        await raw_connect(handler).connect()
    assert (info.value.code, info.value.reason) == (CloseCode.POLICY_VIOLATION, "nope")
    [ws] = seen
    assert ws.application_state is DISCONNECTED
    assert (ws.close_code, ws.close_reason) == (CloseCode.POLICY_VIOLATION, "nope")


async def test_repr_shows_path_and_states() -> None:
    ws = await FakeServer().accepted_socket()
    assert repr(ws) == "<WebSocket /ws/ client=CONNECTED application=CONNECTED>"


# -- the send/receive matrix: operation × state ------------------------------------------------

SENDS: dict[str, Callable[[WebSocket], Awaitable[Any]]] = {
    "send_text": lambda ws: ws.send_text("x"),
    "send_bytes": lambda ws: ws.send_bytes(b"x"),
    "send_json": lambda ws: ws.send_json({"x": 1}),
    "send-str": lambda ws: ws.send("x"),
    "send-bytes": lambda ws: ws.send(b"x"),
}
RECEIVES: dict[str, Callable[[WebSocket], Awaitable[Any]]] = {
    "receive_text": lambda ws: ws.receive_text(),
    "receive_bytes": lambda ws: ws.receive_bytes(),
    "receive_json": lambda ws: ws.receive_json(),
}


def _outcome(exc: BaseException | None) -> tuple[Any, ...]:
    if isinstance(exc, WebSocketDisconnect):
        return ("WebSocketDisconnect", exc.code, exc.reason)
    return (type(exc).__name__, str(exc))


async def _run_in_state(state: str, operation: Callable[[WebSocket], Awaitable[Any]]) -> Any:
    """Put a connection in ``state``, run ``operation`` there, return what it raised."""
    caught: list[BaseException | None] = []

    async def handler(ws: WebSocket) -> None:
        if state == "after-server-close":
            await ws.accept()
            await ws.close(CloseCode.POLICY_VIOLATION, "done")
        elif state == "after-client-close":
            await ws.accept()
            await ws.receive()  # the client's disconnect
        try:
            await operation(ws)
        except Exception as exc:
            caught.append(exc)
        else:
            caught.append(None)
        if state == "before-accept":
            await ws.close()

    session = raw_connect(handler)
    if state == "before-accept":
        with pytest.raises(HandshakeRejected):
            await session.connect()
    elif state == "after-server-close":
        await session.connect()
        assert await session.wait_closed() == (CloseCode.POLICY_VIOLATION, "done")
    else:
        await session.connect()
        await session.close(CloseCode.GOING_AWAY, "bye")
    await session.close()
    return _outcome(caught[0])


NOT_SENDABLE_BEFORE_ACCEPT = (
    "InvalidStateError",
    "Cannot send: the connection is WebSocketState.CONNECTING, expected WebSocketState.CONNECTED.",
)
NOT_SENDABLE_AFTER_CLOSE = (
    "InvalidStateError",
    "Cannot send: the connection is WebSocketState.DISCONNECTED, expected WebSocketState.CONNECTED.",
)
NOT_RECEIVABLE_BEFORE_ACCEPT = (
    "InvalidStateError",
    "Cannot receive data: the connection is WebSocketState.CONNECTING, "
    "expected WebSocketState.CONNECTED.",
)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("before-accept", NOT_SENDABLE_BEFORE_ACCEPT),
        ("after-server-close", NOT_SENDABLE_AFTER_CLOSE),
        ("after-client-close", ("WebSocketDisconnect", CloseCode.GOING_AWAY, "bye")),
    ],
)
@pytest.mark.parametrize("operation", list(SENDS))
async def test_send_outside_the_connected_state(
    operation: str, state: str, expected: tuple[Any, ...]
) -> None:
    assert await _run_in_state(state, SENDS[operation]) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("before-accept", NOT_RECEIVABLE_BEFORE_ACCEPT),
        (
            "after-server-close",
            ("WebSocketDisconnect", CloseCode.POLICY_VIOLATION, "done"),
        ),
        ("after-client-close", ("WebSocketDisconnect", CloseCode.GOING_AWAY, "bye")),
    ],
)
@pytest.mark.parametrize("operation", list(RECEIVES))
async def test_receive_outside_the_connected_state(
    operation: str, state: str, expected: tuple[Any, ...]
) -> None:
    assert await _run_in_state(state, RECEIVES[operation]) == expected


@pytest.mark.parametrize("state", ["after-server-close", "after-client-close"])
@pytest.mark.parametrize("iterate", ["iter_text", "iter_bytes", "iter_json", "async-for"])
async def test_iteration_after_close_yields_nothing(iterate: str, state: str) -> None:
    async def collect(ws: WebSocket) -> list[Any]:
        source = ws if iterate == "async-for" else getattr(ws, iterate)()
        return [item async for item in source]

    async def operation(ws: WebSocket) -> None:
        assert await collect(ws) == []

    assert await _run_in_state(state, operation) == ("NoneType", "None")


@pytest.mark.parametrize(
    ("send", "receive", "payload"),
    [("send_text", "receive_text", "héllo ✓"), ("send_bytes", "receive_bytes", b"\x00\xff")],
    ids=["text", "bytes"],
)
async def test_server_send_reaches_the_client_unchanged(
    send: str, receive: str, payload: str | bytes
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await getattr(ws, send)(payload)

    async with connect(handler) as ws:
        assert await getattr(ws, receive)() == payload


@pytest.mark.parametrize(
    ("send", "receive", "payload"),
    [("send_text", "receive_text", "héllo ✓"), ("send_bytes", "receive_bytes", b"\x00\xff")],
    ids=["text", "bytes"],
)
async def test_client_send_reaches_the_server_unchanged(
    send: str, receive: str, payload: str | bytes
) -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await getattr(ws, receive)())

    async with connect(handler) as ws:
        await getattr(ws, send)(payload)
        await ws.wait_closed()
    assert got == [payload]


@pytest.mark.parametrize("payload", ["", b""], ids=["empty-text", "empty-bytes"])
async def test_empty_messages_are_sent_and_received(payload: str | bytes) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            await ws.send(message)

    async with connect(handler) as ws:
        if isinstance(payload, str):
            await ws.send_text(payload)
            assert await ws.receive_text() == ""
        else:
            await ws.send_bytes(payload)
            assert await ws.receive_bytes() == b""


async def test_receive_returns_the_raw_event() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive())

    async with connect(handler) as ws:
        await ws.send_text("hi")
        await ws.wait_closed()
    assert got == [{"type": "websocket.receive", "text": "hi"}]


@pytest.mark.parametrize(
    ("receive", "send", "payload", "reason"),
    [
        ("receive_text", "send_bytes", b"x", "Expected a text frame, got a binary frame."),
        ("receive_bytes", "send_text", "x", "Expected a binary frame, got a text frame."),
        ("receive_json", "send_bytes", b"{}", "Expected a text frame, got a binary frame."),
    ],
    ids=["text-wanted-bytes-sent", "bytes-wanted-text-sent", "json-wanted-bytes-sent"],
)
async def test_wrong_frame_type_closes_with_unsupported_data(
    receive: str, send: str, payload: str | bytes, reason: str
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await getattr(ws, receive)()

    async with connect(handler) as ws:
        await getattr(ws, send)(payload)
        assert await ws.wait_closed() == (CloseCode.UNSUPPORTED_DATA, reason)


async def test_wrong_frame_type_raises_unsupported_data_in_the_handler() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.receive", "bytes": b"x"})
    with pytest.raises(UnsupportedData) as info:
        await ws.receive_text()
    assert (info.value.code, info.value.reason) == (
        CloseCode.UNSUPPORTED_DATA,
        "Expected a text frame, got a binary frame.",
    )


async def test_send_of_an_unknown_event_type_is_a_runtime_error() -> None:
    ws = await FakeServer().accepted_socket()
    with pytest.raises(RuntimeError) as info:
        await ws.send({"type": "http.response.start"})
    assert str(info.value) == (
        'Expected "websocket.send", "websocket.accept" or "websocket.close", '
        "but got 'http.response.start'"
    )


async def test_send_of_a_close_event_closes() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.send({"type": "websocket.close", "code": CloseCode.GOING_AWAY, "reason": "later"})
    assert server.sent[-1] == {
        "type": "websocket.close",
        "code": CloseCode.GOING_AWAY,
        "reason": "later",
    }
    assert ws.application_state is DISCONNECTED


async def test_a_send_that_fails_with_oserror_is_a_disconnect() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()

    async def broken_send(message: Any) -> None:
        raise OSError("connection reset")

    ws._send = broken_send
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.send_text("x")
    assert (info.value.code, info.value.reason) == (CloseCode.ABNORMAL_CLOSURE, "connection reset")
    assert (ws.client_state, ws.close_code) == (DISCONNECTED, CloseCode.ABNORMAL_CLOSURE)


# -- JSON --------------------------------------------------------------------------------------


async def test_send_json_uses_compact_django_json() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json(
            {
                "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
                "id": uuid.UUID(int=1),
                "price": Decimal("1.50"),
                "name": "é",
            }
        )

    async with connect(handler) as ws:
        assert await ws.receive_text() == (
            '{"when":"2024-01-02T03:04:05Z","id":"00000000-0000-0000-0000-000000000001",'
            '"price":"1.50","name":"é"}'
        )


async def test_receive_json_decodes_a_text_frame() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive_json())

    async with connect(handler) as ws:
        await ws.send_text('{"type": "hi", "n": [1, 2]}')
        await ws.wait_closed()
    assert got == [{"type": "hi", "n": [1, 2]}]


async def test_send_json_in_binary_mode_sends_utf8_bytes() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"name": "é"}, mode="binary")

    async with connect(handler) as ws:
        assert await ws.receive_bytes() == '{"name":"é"}'.encode()


async def test_receive_json_in_binary_mode_decodes_a_binary_frame() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive_json(mode="binary"))

    async with connect(handler) as ws:
        await ws.send_bytes('{"name": "é"}'.encode())
        await ws.wait_closed()
    assert got == [{"name": "é"}]


async def test_receive_json_in_binary_mode_refuses_a_text_frame() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json(mode="binary")

    async with connect(handler) as ws:
        await ws.send_text("{}")
        assert await ws.wait_closed() == (
            CloseCode.UNSUPPORTED_DATA,
            "Expected a binary frame, got a text frame.",
        )


@pytest.mark.parametrize("method", ["send_json", "receive_json"])
async def test_json_mode_must_be_text_or_binary(method: str) -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.receive", "text": "{}"})
    call = ws.send_json({}, mode="xml") if method == "send_json" else ws.receive_json(mode="xml")
    with pytest.raises(ValueError) as info:
        await call  # type: ignore[arg-type]
    assert str(info.value) == 'mode must be "text" or "binary", not \'xml\''


async def test_bad_json_closes_with_invalid_payload() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json()

    async with connect(handler) as ws:
        await ws.send_text("{not json")
        assert await ws.wait_closed() == (
            CloseCode.INVALID_PAYLOAD,
            "Invalid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        )


async def test_invalid_utf8_in_binary_json_closes_with_invalid_payload() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json(mode="binary")

    async with connect(handler) as ws:
        await ws.send_bytes(b"\xff")
        assert await ws.wait_closed() == (
            CloseCode.INVALID_PAYLOAD,
            "Invalid JSON: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        )


async def test_bad_json_raises_invalid_payload_in_the_handler() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.receive", "text": ""})
    with pytest.raises(InvalidPayload) as info:
        await ws.receive_json()
    assert (info.value.code, info.value.reason) == (
        CloseCode.INVALID_PAYLOAD,
        "Invalid JSON: Expecting value: line 1 column 1 (char 0)",
    )


def traceback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records a hostile frame must never cause: errors, or anything with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def closed_after_receive_json(frame: str, **receive: Any) -> tuple[int, str]:
    """The close a handler that calls ``receive_json()`` once ends with, given ``frame``."""

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_json(**receive)

    async with connect(handler) as ws:
        await ws.send_text(frame)
        return await ws.wait_closed()


@pytest.mark.parametrize("depth", [900, 2_000, 50_000])
async def test_receive_json_refuses_deep_nesting_with_1007(
    depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    frame = '{"x": ' + "[" * depth + "]" * depth + "}"
    assert await closed_after_receive_json(frame) == (
        CloseCode.INVALID_PAYLOAD,
        "Invalid JSON: The JSON is nested deeper than 128 levels.",
    )
    assert traceback_records(caplog) == []


async def test_a_custom_loads_that_overflows_the_stack_is_invalid_payload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json

    code, reason = await closed_after_receive_json("[" * 50_000, loads=json.loads)
    assert (code, reason.split(":")[0]) == (CloseCode.INVALID_PAYLOAD, "Invalid JSON")
    assert "maximum recursion depth exceeded" in reason
    assert traceback_records(caplog) == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_receive_json_refuses_nan_and_infinity_with_1007(constant: str) -> None:
    assert await closed_after_receive_json(f'{{"x": {constant}}}') == (
        CloseCode.INVALID_PAYLOAD,
        f"Invalid JSON: {constant} is not valid JSON (RFC 8259 §6).",
    )


async def test_receive_json_refuses_a_lone_surrogate_with_1007() -> None:
    assert await closed_after_receive_json('{"body": "\\ud800"}') == (
        CloseCode.INVALID_PAYLOAD,
        "Invalid JSON: The JSON holds a lone surrogate, which is not Unicode text.",
    )


@pytest.mark.parametrize("method", ["receive_text", "receive_json", "receive"])
async def test_a_text_frame_that_is_not_utf8_closes_with_1007(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await getattr(ws, method)()

    async with connect(handler) as ws:
        await ws.send_text('{"body": "\ud800"}')  # a raw surrogate: no server may pass one on
        assert await ws.wait_closed() == (
            CloseCode.INVALID_PAYLOAD,
            "A text frame that is not valid UTF-8.",
        )
    assert traceback_records(caplog) == []


async def test_send_text_refuses_a_lone_surrogate_before_sending() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    with pytest.raises(UnicodeEncodeError):
        await ws.send_text("half a pair: \ud83d")
    assert server.sent_types == ["websocket.accept"]
    assert (ws.messages_sent, ws.open) == (0, True)


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=str)
async def test_send_json_of_nan_is_a_value_error_and_sends_nothing(value: float) -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    with pytest.raises(ValueError) as info:
        await ws.send_json({"x": value})
    assert str(info.value).startswith("Out of range float values are not JSON compliant")
    assert server.sent_types == ["websocket.accept"]


async def test_send_json_with_a_custom_dumps() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"a": 1}, dumps=lambda data: f"<{sorted(data)}>")

    async with connect(handler) as ws:
        assert await ws.receive_text() == "<['a']>"


async def test_receive_json_with_a_custom_loads() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive_json(loads=lambda raw: ("loaded", raw)))

    async with connect(handler) as ws:
        await ws.send_text("anything")
        await ws.wait_closed()
    assert got == [("loaded", "anything")]


async def test_a_custom_loads_error_is_invalid_payload() -> None:
    def strict(raw: str | bytes) -> Any:
        raise ValueError("not allowed")

    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.receive", "text": "{}"})
    with pytest.raises(InvalidPayload) as info:
        await ws.receive_json(loads=strict)
    assert info.value.reason == "Invalid JSON: not allowed"


async def test_the_per_connection_codec_can_be_replaced() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    ws.dumps = lambda data: "dumped"
    ws.loads = lambda raw: "loaded"
    server.feed({"type": "websocket.receive", "text": "{}"})
    await ws.send_json({"a": 1})
    assert server.sent[-1] == {"type": "websocket.send", "text": "dumped"}
    assert await ws.receive_json() == "loaded"


@override_settings(
    WSAPP={
        "JSON_DUMPS": "tests.wsapp.test_connection.upper_dumps",
        "JSON_LOADS": "tests.wsapp.test_connection.tagged_loads",
    }
)
async def test_the_default_codec_comes_from_settings() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.receive", "text": '{"a": 1}'})
    await ws.send_json({"a": "b"})
    assert server.sent[-1] == {"type": "websocket.send", "text": '{"A": "B"}'}
    assert await ws.receive_json() == {"loaded": {"a": 1}}


# -- iteration ---------------------------------------------------------------------------------


async def test_async_for_yields_text_and_bytes_until_the_client_closes() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            got.append(message)
        got.append(("closed", ws.close_code))

    async with connect(handler) as ws:
        await ws.send_text("a")
        await ws.send_bytes(b"b")
        await ws.send_text("c")
        await ws.close(CloseCode.GOING_AWAY)
    assert got == ["a", b"b", "c", ("closed", CloseCode.GOING_AWAY)]


@pytest.mark.parametrize(
    ("iterate", "sends", "expected"),
    [
        ("iter_text", [("send_text", "a"), ("send_text", "b")], ["a", "b"]),
        ("iter_bytes", [("send_bytes", b"a"), ("send_bytes", b"b")], [b"a", b"b"]),
        ("iter_json", [("send_text", '{"n": 1}'), ("send_text", "[2]")], [{"n": 1}, [2]]),
    ],
)
async def test_iterators_yield_until_the_client_closes(
    iterate: str, sends: list[tuple[str, Any]], expected: list[Any]
) -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for item in getattr(ws, iterate)():
            got.append(item)

    async with connect(handler) as ws:
        for method, payload in sends:
            await getattr(ws, method)(payload)
    assert got == expected


async def test_iter_json_in_binary_mode() -> None:
    got: list[Any] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for item in ws.iter_json(mode="binary"):
            got.append(item)

    async with connect(handler) as ws:
        await ws.send_bytes(b'{"n": 1}')
    assert got == [{"n": 1}]


async def test_iter_text_stops_on_a_binary_frame_with_unsupported_data() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(text)

    async with connect(handler) as ws:
        await ws.send_text("ok")
        assert await ws.receive_text() == "ok"
        await ws.send_bytes(b"no")
        assert await ws.wait_closed() == (
            CloseCode.UNSUPPORTED_DATA,
            "Expected a text frame, got a binary frame.",
        )


# -- wait_closed -------------------------------------------------------------------------------


async def test_wait_closed_returns_once_the_client_closes() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    reader = asyncio.create_task(ws.receive())
    waiter = asyncio.create_task(ws.wait_closed())
    await asyncio.sleep(0)
    assert not waiter.done()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.NORMAL_CLOSURE})
    await asyncio.wait_for(waiter, 1)
    await reader
    assert ws.closed


async def test_wait_closed_returns_once_the_server_closes() -> None:
    ws = await FakeServer().accepted_socket()
    waiter = asyncio.create_task(ws.wait_closed())
    await asyncio.sleep(0)
    assert not waiter.done()
    await ws.close()
    await asyncio.wait_for(waiter, 1)


async def test_wait_closed_returns_at_once_when_already_closed() -> None:
    ws = await FakeServer().accepted_socket()
    await ws.close()
    await asyncio.wait_for(ws.wait_closed(), 0.1)


# -- close -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(CloseCode.NO_STATUS_RECEIVED, id="1005-reserved"),
        pytest.param(CloseCode.ABNORMAL_CLOSURE, id="1006-reserved"),
        pytest.param(999, id="999-below-range"),
        pytest.param(5000, id="5000-above-range"),
        pytest.param(1004, id="1004-reserved"),
        pytest.param(1015, id="1015-tls-reserved"),
        pytest.param(2999, id="2999-unassigned"),
    ],
)
async def test_close_refuses_codes_an_endpoint_may_not_send(code: int) -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    with pytest.raises(ValueError) as info:
        await ws.close(code)
    assert str(info.value) == f"{code} is not a close code an endpoint may send (RFC 6455 §7.4)."
    assert ws.open
    assert server.sent_types == ["websocket.accept"]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(CloseCode.NORMAL_CLOSURE, id="1000"),
        pytest.param(CloseCode.INTERNAL_ERROR, id="1011"),
        pytest.param(CloseCode.TRY_AGAIN_LATER, id="1013"),
        pytest.param(3000, id="3000-registered-range"),
        pytest.param(CloseCode.FORBIDDEN, id="4403"),
        pytest.param(4999, id="4999-last-private"),
    ],
)
async def test_close_sends_a_valid_code(code: int) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(code, "why")

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (code, "why")


async def test_close_defaults_to_normal_closure_without_reason() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close()

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (CloseCode.NORMAL_CLOSURE, "")


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        pytest.param("a" * 200, "a" * 123, id="ascii-cut-at-123-bytes"),
        pytest.param("é" * 100, "é" * 61, id="utf8-cut-at-a-character-boundary"),
        pytest.param("b" * 123, "b" * 123, id="exactly-123-bytes-kept"),
        pytest.param("x" * 121 + "é", "x" * 121 + "é", id="123-bytes-ending-in-two-byte-char"),
    ],
)
async def test_close_reason_is_truncated_to_123_utf8_bytes(reason: str, sent: str) -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.close(CloseCode.NORMAL_CLOSURE, reason)
    assert server.sent[-1]["reason"] == sent
    assert len(server.sent[-1]["reason"].encode()) <= 123
    assert ws.close_reason == sent


async def test_duplicate_close_sends_one_close_frame() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.close(CloseCode.GOING_AWAY, "first")
    await ws.close(CloseCode.POLICY_VIOLATION, "second")
    assert server.sent_types == ["websocket.accept", "websocket.close"]
    assert (ws.close_code, ws.close_reason) == (CloseCode.GOING_AWAY, "first")


async def test_close_after_the_client_closed_sends_nothing() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    await ws.receive()
    await ws.close(CloseCode.NORMAL_CLOSURE)
    assert server.sent_types == ["websocket.accept"]
    assert ws.close_code == CloseCode.GOING_AWAY


# -- handler outcome → close code (DESIGN.md's policy, applied by the router) -----------------


async def test_a_handler_that_returns_without_closing_closes_normally() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (CloseCode.NORMAL_CLOSURE, "")


async def test_a_handler_that_raises_closes_with_internal_error_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Boom(Exception):
        pass

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise Boom("kaput")

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (CloseCode.INTERNAL_ERROR, "Internal error.")
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert (record.name, record.getMessage()) == (
        "wsapp",
        "Unhandled exception in websocket handler for /ws/",
    )
    assert record.exc_info is not None and record.exc_info[0] is Boom
    assert "kaput" in caplog.text


async def test_a_handler_that_never_accepts_refuses_the_handshake() -> None:
    async def handler(ws: WebSocket) -> None:
        pass

    with pytest.raises(HandshakeRejected) as info:
        await connect(handler).connect()
    assert (info.value.code, info.value.reason) == (CloseCode.NORMAL_CLOSURE, "")


async def test_a_handler_that_raises_before_accept_refuses_the_handshake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(ws: WebSocket) -> None:
        raise KeyError("missing")

    with pytest.raises(HandshakeRejected) as info:
        await connect(handler).connect()
    assert (info.value.code, info.value.reason) == (CloseCode.INTERNAL_ERROR, "Internal error.")
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [KeyError]


async def test_a_client_that_closes_is_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            await ws.receive_text()  # raises WebSocketDisconnect once the client is gone

    async with connect(handler) as ws:
        await ws.send_text("hi")
    assert [r for r in caplog.records if r.levelname in {"WARNING", "ERROR"}] == []


@pytest.mark.parametrize(
    ("exception", "code", "reason"),
    [
        ("Reject", CloseCode.FORBIDDEN, "Refused."),
        ("NotAuthenticated", CloseCode.NOT_AUTHENTICATED, "Authentication required."),
        ("InvalidToken", CloseCode.NOT_AUTHENTICATED, "Invalid token."),
        ("PermissionDenied", CloseCode.FORBIDDEN, "Permission denied."),
        ("RoomNotFound", CloseCode.ROOM_NOT_FOUND, "No such room."),
        (
            "TooManyConnections",
            CloseCode.TOO_MANY_CONNECTIONS,
            "Too many connections for this user.",
        ),
        ("RoomClosed", CloseCode.ROOM_CLOSED, "Room closed."),
        ("RateLimited", CloseCode.RATE_LIMITED, "Rate limit exceeded."),
    ],
)
async def test_a_reject_before_accept_is_accepted_then_closed_with_its_code(
    exception: str, code: CloseCode, reason: str
) -> None:
    from wsapp import exceptions

    async def handler(ws: WebSocket) -> None:
        raise getattr(exceptions, exception)()

    async with connect(handler) as ws:  # accepted: a browser only ever sees close codes
        assert await ws.wait_closed() == (code, reason)


async def test_a_reject_with_its_own_reason() -> None:
    from wsapp.exceptions import PermissionDenied

    async def handler(ws: WebSocket) -> None:
        raise PermissionDenied("Members only.")

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (CloseCode.FORBIDDEN, "Members only.")


async def test_a_reject_after_accept_closes_with_its_code() -> None:
    from wsapp.exceptions import RoomClosed

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("welcome")
        raise RoomClosed()

    async with connect(handler) as ws:
        assert await ws.receive_text() == "welcome"
        assert await ws.wait_closed() == (CloseCode.ROOM_CLOSED, "Room closed.")


async def test_close_connection_closes_with_the_given_code_and_reason() -> None:
    from wsapp.exceptions import CloseConnection

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise CloseConnection("busy", code=CloseCode.TRY_AGAIN_LATER)

    async with connect(handler) as ws:
        assert await ws.wait_closed() == (CloseCode.TRY_AGAIN_LATER, "busy")


async def test_a_handler_that_closes_itself_keeps_its_code() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(CloseCode.GOING_AWAY, "bye")

    server = FakeServer()
    server.feed({"type": "websocket.connect"})
    await route(handler)(websocket_scope(), server.receive, server.send)
    assert server.sent[1:] == [
        {"type": "websocket.close", "code": CloseCode.GOING_AWAY, "reason": "bye"}
    ]


# -- limits: size, receive timeouts, idle timeout ----------------------------------------------


async def _echo(ws: WebSocket) -> None:
    await ws.accept()
    async for message in ws:
        await ws.send(message)


@override_settings(WSAPP={"MAX_MESSAGE_SIZE": 8})
@pytest.mark.parametrize(
    ("method", "payload", "size"),
    [
        ("send_bytes", b"123456789", 9),
        ("send_text", "123456789", 9),
        ("send_text", "ééééé", 10),  # 5 characters, 10 UTF-8 bytes
    ],
    ids=["bytes", "text", "multibyte-text"],
)
async def test_a_message_over_max_message_size_closes_with_1009(
    method: str, payload: str | bytes, size: int
) -> None:
    async with connect(_echo) as ws:
        await getattr(ws, method)(payload)
        assert await ws.wait_closed() == (
            CloseCode.MESSAGE_TOO_BIG,
            f"Message of {size} bytes is over the limit of 8.",
        )


@override_settings(WSAPP={"MAX_MESSAGE_SIZE": 8})
@pytest.mark.parametrize(
    ("send", "receive", "payload"),
    [("send_bytes", "receive_bytes", b"12345678"), ("send_text", "receive_text", "123456é")],
    ids=["bytes", "text"],
)
async def test_a_message_of_exactly_max_message_size_passes(
    send: str, receive: str, payload: str | bytes
) -> None:
    async with connect(_echo) as ws:
        await getattr(ws, send)(payload)
        assert await getattr(ws, receive)() == payload


async def test_the_default_max_message_size_is_one_mebibyte() -> None:
    async with connect(_echo) as ws:
        await ws.send_bytes(b"x" * (1024 * 1024))
        assert len(await ws.receive_bytes()) == 1024 * 1024
        await ws.send_bytes(b"x" * (1024 * 1024 + 1))
        assert await ws.wait_closed() == (
            CloseCode.MESSAGE_TOO_BIG,
            "Message of 1048577 bytes is over the limit of 1048576.",
        )


@override_settings(WSAPP={"MAX_MESSAGE_SIZE": None})
async def test_max_message_size_none_means_no_limit() -> None:
    async with connect(_echo) as ws:
        await ws.send_bytes(b"x" * (2 * 1024 * 1024))
        assert len(await ws.receive_bytes()) == 2 * 1024 * 1024


@pytest.mark.parametrize("method", ["receive", "receive_text", "receive_bytes", "receive_json"])
async def test_receive_with_a_timeout_raises_timeout_error(method: str) -> None:
    ws = await FakeServer().accepted_socket()
    with pytest.raises(TimeoutError):
        await getattr(ws, method)(timeout=0.01)
    assert ws.open


async def test_a_timed_out_receive_loses_no_message() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    with pytest.raises(TimeoutError):
        await ws.receive_text(timeout=0.01)
    server.feed({"type": "websocket.receive", "text": "late"})
    assert await ws.receive_text(timeout=1) == "late"


@override_settings(WSAPP={"IDLE_TIMEOUT": 0.1})
async def test_idle_timeout_closes_a_silent_connection_with_1001() -> None:
    async with connect(_echo) as ws:
        assert await ws.wait_closed() == (CloseCode.GOING_AWAY, "idle timeout")


@override_settings(WSAPP={"IDLE_TIMEOUT": 0.25})
async def test_incoming_messages_keep_an_idle_connection_open() -> None:
    async with connect(_echo) as ws:
        for n in range(6):  # 0.3 s in all, longer than the idle timeout
            await asyncio.sleep(0.05)
            await ws.send_text(str(n))
            assert await ws.receive_text() == str(n)
        assert await ws.wait_closed() == (CloseCode.GOING_AWAY, "idle timeout")


def test_there_is_no_idle_timeout_by_default() -> None:
    assert FakeServer().socket().limits.idle_timeout is None


# -- ping ----------------------------------------------------------------------------------------


async def test_ping_without_the_server_extension_is_not_supported() -> None:
    ws = await FakeServer().accepted_socket()
    with pytest.raises(NotSupported) as info:
        await ws.ping()
    assert str(info.value) == (
        "This server offers no protocol-level ping; run it with `manage.py serve`."
    )


def _answering_pongs(server: FakeServer) -> None:
    def pong(message: Any) -> None:
        if message["type"] == "wsapp.ping":
            server.feed({"type": "wsapp.pong", "bytes": message["bytes"]})

    server.on_send = pong


async def test_ping_with_the_server_extension_returns_the_round_trip() -> None:
    server = FakeServer()
    ws = await server.accepted_socket(websocket_scope(extensions={"wsapp.ping": {}}))
    _answering_pongs(server)
    reader = asyncio.create_task(ws.receive_text())  # pongs arrive through receive()
    rtt = await ws.ping(b"abc", timeout=1)
    assert isinstance(rtt, float) and 0 <= rtt < 1
    assert server.sent[-1] == {"type": "wsapp.ping", "bytes": b"abc"}
    server.feed({"type": "websocket.receive", "text": "after"})
    assert await reader == "after"  # the pong was not handed to the application


async def test_ping_without_data_sends_a_random_payload() -> None:
    server = FakeServer()
    ws = await server.accepted_socket(websocket_scope(extensions={"wsapp.ping": {}}))
    _answering_pongs(server)
    reader = asyncio.create_task(ws.receive())
    await ws.ping(timeout=1)
    await ws.ping(timeout=1)
    first, second = (m["bytes"] for m in server.sent if m["type"] == "wsapp.ping")
    assert len(first) == len(second) == 4 and first != second
    reader.cancel()


async def test_ping_times_out_without_a_matching_pong() -> None:
    server = FakeServer()
    ws = await server.accepted_socket(websocket_scope(extensions={"wsapp.ping": {}}))
    reader = asyncio.create_task(ws.receive())
    server.feed({"type": "wsapp.pong", "bytes": b"other"})
    with pytest.raises(TimeoutError):
        await ws.ping(b"abc", timeout=0.05)
    assert ws._pings == {}
    reader.cancel()


async def test_ping_raises_disconnect_when_the_client_leaves_first() -> None:
    server = FakeServer()
    ws = await server.accepted_socket(websocket_scope(extensions={"wsapp.ping": {}}))
    reader = asyncio.create_task(ws.receive())
    pinger = asyncio.create_task(ws.ping(b"abc", timeout=1))
    await asyncio.sleep(0)
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    with pytest.raises(WebSocketDisconnect) as info:
        await pinger
    assert info.value.code == CloseCode.GOING_AWAY
    await reader


async def test_ping_before_accept_is_an_invalid_state() -> None:
    ws = FakeServer().socket(websocket_scope(extensions={"wsapp.ping": {}}))
    with pytest.raises(InvalidStateError):
        await ws.ping(b"abc", timeout=0.1)


# -- wsapp.connections() -------------------------------------------------------------------------


async def test_connections_lists_accepted_sockets_until_they_close() -> None:
    server = FakeServer()
    ws = server.socket()
    assert ws not in wsapp.connections()
    server.feed({"type": "websocket.connect"})
    await ws.accept()
    assert ws in wsapp.connections()
    await ws.close()
    assert ws not in wsapp.connections()


async def test_connections_forgets_a_socket_the_client_closed() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.NORMAL_CLOSURE})
    await ws.receive()
    assert ws not in wsapp.connections()


async def test_connections_returns_a_copy() -> None:
    ws = await FakeServer().accepted_socket()
    listing = wsapp.connections()
    listing.clear()
    assert ws in wsapp.connections()
    await ws.close()


async def test_a_server_declaring_the_send_extension_gets_frames_by_direct_call() -> None:
    """After accept, websocket.send events skip the ASGI send (and whatever wraps it) when the
    server offers ``wsapp.send``; the accept and the close still go through it, in order."""
    server = FakeServer()
    written: list[Any] = []
    scope = websocket_scope(extensions={SEND_EXTENSION: {"frame": written.append}})
    ws = await server.accepted_socket(scope)
    await ws.send_text("one")
    await ws.send_bytes(b"two")
    await ws.close(4000, "bye")
    assert written == [
        {"type": "websocket.send", "text": "one"},
        {"type": "websocket.send", "bytes": b"two"},
    ]
    assert server.sent_types == ["websocket.accept", "websocket.close"]
    assert ws.messages_sent == 2


async def test_send_frame_nowait_writes_and_counts_only_where_the_server_takes_frames() -> None:
    """Without ``wsapp.send`` it declines (the hub then awaits ``send_frame``); with it, the
    frame is written in the call and counted with the size the caller measured once."""
    plain = await FakeServer().accepted_socket()
    assert plain.send_frame_nowait({"type": "websocket.send", "text": "x"}, 1) is False
    assert plain.messages_sent == 0
    written: list[Any] = []
    scope = websocket_scope(extensions={SEND_EXTENSION: {"frame": written.append}})
    ws = await FakeServer().accepted_socket(scope)
    frame = {"type": "websocket.send", "text": "héllo"}
    assert ws.send_frame_nowait(frame, 6) is True
    assert written == [frame]
    assert (ws.messages_sent, ws.bytes_sent) == (1, 6)


async def test_send_frame_nowait_refuses_a_socket_not_open() -> None:
    written: list[Any] = []
    scope = websocket_scope(extensions={SEND_EXTENSION: {"frame": written.append}})
    server = FakeServer()
    unaccepted = server.socket(scope)
    with pytest.raises(InvalidStateError):
        unaccepted.send_frame_nowait({"type": "websocket.send", "text": "x"}, 1)
    server2 = FakeServer()
    gone = await server2.accepted_socket(scope)
    server2.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    await gone.receive()
    with pytest.raises(WebSocketDisconnect) as caught:
        gone.send_frame_nowait({"type": "websocket.send", "text": "x"}, 1)
    assert caught.value.code == CloseCode.GOING_AWAY
    assert written == []


async def test_send_frame_nowait_never_overtakes_frames_queued_by_send_soon() -> None:
    """A frame ``wsapp.broadcast`` queued unawaited goes first: while its writer runs the direct
    write declines, and the awaited ``send_frame`` drains the queue before writing."""
    written: list[Any] = []
    scope = websocket_scope(extensions={SEND_EXTENSION: {"frame": written.append}})
    ws = await FakeServer().accepted_socket(scope)
    first = {"type": "websocket.send", "text": "first"}
    second = {"type": "websocket.send", "text": "second"}
    assert ws.send_soon(first, 5, 1 << 20)
    assert ws.send_frame_nowait(second, 6) is False
    await ws.send_frame(second)
    assert written == [first, second]
