"""The server side of framework parity (issue 11), in-process: what a ported handler relies on.

- a send after the peer has gone raises ``WebSocketDisconnect``, also in a handler that never
  receives (the connection reads one event ahead for it, :mod:`wsapp.readahead`);
- ``ws.deny()`` answers the handshake with an HTTP response, and the test client reports what a
  real client gets (``status_code``, ``headers``, ``body``); ``basic_auth``/``process_request``;
- ``ws.on_shutdown()`` callbacks, run by :meth:`wsapp.lifecycle.Registry.shutdown`;
- the settings this adds or relaxes (``CONNECT_TIMEOUT``, ``PING_INTERVAL: None``).

The same behaviours over real sockets, under ``manage.py serve`` and plain Daphne, are in
``tests/e2e/test_parity_server.py``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import pytest
from django.core.checks import Error
from django.test import override_settings

from tests.support.timing import scaled, wait_until
from tests.wsapp.helpers import (
    TIMEOUT,
    FakeServer,
    connect,
    raw_connect,
    route,
    websocket_scope,
)
from wsapp import lifecycle
from wsapp.checks import check_settings
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket, WebSocketState
from wsapp.consumers import Consumer
from wsapp.denial import HTTPResponse, basic_auth, denial_events, process_request
from wsapp.exceptions import InvalidStateError, WebSocketDisconnect
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected, WebSocketTestClient
from wsapp.types import DISCONNECT_EXTENSION, Message

TICK = 0.01  # a send-only handler's pause between frames


def send_only(events: list[Any]) -> Any:
    """A handler that sends forever and never receives; ``events`` records how it ended."""

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                await ws.send_text("tick")
                await asyncio.sleep(TICK)
        except WebSocketDisconnect as exc:
            events.append(("disconnect", exc.code))
            raise
        finally:
            events.append("finally")

    return handler


# -- a disconnect is never silent -------------------------------------------------------------


async def test_send_only_handler_ends_when_the_client_closes() -> None:
    events: list[Any] = []
    ws = await connect(send_only(events)).connect()
    assert await ws.receive_text() == "tick"
    await ws.close(CloseCode.GOING_AWAY)  # returns once the handler has ended (no TimeoutError)
    assert events == [("disconnect", CloseCode.GOING_AWAY), "finally"]


async def test_send_only_raw_handler_ends_too() -> None:
    events: list[Any] = []
    ws = await raw_connect(send_only(events)).connect()
    assert await ws.receive_text() == "tick"
    with pytest.raises(WebSocketDisconnect):  # nothing catches it in a raw app: it propagates
        await ws.close()
    assert events == [("disconnect", CloseCode.NORMAL_CLOSURE), "finally"]


async def test_a_send_after_the_disconnect_raises_with_its_code() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.send_text("one")
    await ws.send_text("two")  # the second send in a row reads ahead
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY, "reason": "bye"})
    await wait_until(lambda: ws.closed, TIMEOUT, "the read-ahead to see the disconnect")
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.send_text("three")
    assert (info.value.code, info.value.reason) == (CloseCode.GOING_AWAY, "bye")
    assert [m.get("text") for m in server.sent if m["type"] == "websocket.send"] == ["one", "two"]


async def test_a_frame_read_ahead_waits_for_the_next_receive() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.send_text("one")
    await ws.send_text("two")
    server.feed({"type": "websocket.receive", "text": "hello"})
    server.feed({"type": "websocket.disconnect", "code": CloseCode.NORMAL_CLOSURE})
    await asyncio.sleep(0)
    await ws.send_text("three")  # the frame is held, not the disconnect behind it: still open
    assert await ws.receive_text() == "hello"
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.receive_text()
    assert info.value.code == CloseCode.NORMAL_CLOSURE


@pytest.mark.parametrize("probe", [True, False], ids=["with-probe", "without"])
async def test_a_frame_held_unread_hides_the_disconnect_unless_the_server_probes(
    probe: bool,
) -> None:
    server = FakeServer()
    gone: list[Message] = []
    extensions = {DISCONNECT_EXTENSION: {"event": lambda: gone[0] if gone else None}}
    ws = await server.accepted_socket(websocket_scope(extensions=extensions if probe else {}))
    await ws.send_text("one")
    await ws.send_text("two")
    server.feed({"type": "websocket.receive", "text": "ignored by a send-only handler"})
    await wait_until(lambda: ws._ahead.task is not None and ws._ahead.task.done(), TIMEOUT)
    gone.append({"type": "websocket.disconnect", "code": CloseCode.ABNORMAL_CLOSURE})
    server.feed(gone[0])  # queued behind the frame the read-ahead holds
    await ws.send_text("three")  # dropped by the server; the probe now says the client is gone
    if probe:
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.send_text("four")
        assert info.value.code == CloseCode.ABNORMAL_CLOSURE
    else:
        await ws.send_text("four")  # plain Daphne: learnt at the next receive()
        assert await ws.receive_text() == "ignored by a send-only handler"
        with pytest.raises(WebSocketDisconnect):
            await ws.receive_text()


async def test_a_receive_with_a_timeout_leaves_the_read_ahead_usable() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.send_text("one")
    await ws.send_text("two")
    with pytest.raises(TimeoutError):
        await ws.receive_text(timeout=0.01)
    server.feed({"type": "websocket.receive", "text": "later"})
    assert await ws.receive_text(timeout=TIMEOUT) == "later"


async def test_an_echo_handler_never_reads_ahead() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    for text in ("a", "b", "c"):
        server.feed({"type": "websocket.receive", "text": text})
        await ws.send_text(await ws.receive_text())
        assert ws._ahead.task is None  # alternating receive and send: no task, no cost
    assert [m.get("text") for m in server.sent if m["type"] == "websocket.send"] == list("abc")


async def test_closing_cancels_the_read_ahead() -> None:
    server = FakeServer()
    ws = await server.accepted_socket()
    await ws.send_text("one")
    await ws.send_text("two")
    task = ws._ahead.task
    assert task is not None and not task.done()
    await ws.close()
    await asyncio.wait([task], timeout=TIMEOUT)
    assert task.cancelled()
    assert ws._ahead.task is None


async def test_wait_closed_alone_learns_that_the_client_left() -> None:
    events: list[str] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        await ws.wait_closed()  # nothing else receives
        events.append(f"closed {ws.close_code}")

    ws = await connect(handler).connect()
    await ws.close(CloseCode.GOING_AWAY)
    assert events == [f"closed {CloseCode.GOING_AWAY}"]


# -- HTTP denial responses --------------------------------------------------------------------


async def test_deny_reaches_the_client_with_status_headers_and_body() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.deny(429, b"slow down", {"Retry-After": "30"})

    session = connect(handler)
    with pytest.raises(HandshakeRejected) as info:
        await session.connect()
    assert session.client_state is WebSocketState.DISCONNECTED
    rejected = info.value
    assert (rejected.status_code, rejected.headers, rejected.body) == (
        429,
        [("retry-after", "30")],
        b"slow down",
    )
    assert isinstance(rejected, WebSocketDisconnect)
    assert rejected.code == CloseCode.ABNORMAL_CLOSURE  # what a browser reports


async def test_a_denial_body_in_several_events_arrives_whole() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        for part, more in ((b"not ", True), (b"you", False)):
            await send({"type": "websocket.http.response.body", "body": part, "more_body": more})

    with pytest.raises(HandshakeRejected) as info:
        await AsyncWebSocketClient(app, timeout=TIMEOUT).websocket_connect("/ws/").connect()
    assert (info.value.status_code, info.value.body) == (403, b"not you")


def test_the_sync_client_reports_the_denial_too() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.deny(401, b"", {"WWW-Authenticate": "Bearer"})

    with WebSocketTestClient(route(handler), timeout=TIMEOUT) as client:
        with pytest.raises(HandshakeRejected) as info:
            client.websocket_connect("/ws/")
    assert (info.value.status_code, info.value.headers) == (401, [("www-authenticate", "Bearer")])


async def test_a_str_body_is_utf8_text() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.deny(403, "déjà refusé")

    with pytest.raises(HandshakeRejected) as info:
        await connect(handler).connect()
    assert info.value.headers == [("content-type", "text/plain; charset=utf-8")]
    assert info.value.body == "déjà refusé".encode()


async def test_a_close_before_accept_is_what_a_client_sees_403() -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.close(CloseCode.POLICY_VIOLATION, "nope")

    with pytest.raises(HandshakeRejected) as info:
        await connect(handler).connect()
    rejected = info.value
    assert (rejected.status_code, rejected.headers, rejected.body) == (403, [], b"")
    assert (rejected.code, rejected.reason) == (CloseCode.POLICY_VIOLATION, "nope")  # kept


async def test_without_the_extension_deny_closes_and_the_client_gets_403(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(ws: WebSocket) -> None:
        await ws.deny(401, b"who are you")

    with caplog.at_level(logging.DEBUG, logger="wsapp"), pytest.raises(HandshakeRejected) as info:
        await connect(handler, extensions={}).connect()  # a server without it: plain Daphne
    assert (info.value.status_code, info.value.body) == (403, b"")
    assert "No websocket.http.response extension: /ws/ denied with 403, not 401." in caplog.text


async def test_deny_tells_the_tracker_of_a_refusal() -> None:
    seen: list[str] = []

    class Tracker:
        async def accepted(self, ws: WebSocket) -> None:
            seen.append("accepted")

        def closed(self, ws: WebSocket) -> None:
            seen.append("closed")

        def refused(self, ws: WebSocket) -> None:
            seen.append("refused")

    server = FakeServer()
    ws = server.socket(websocket_scope(extensions={}), tracker=Tracker())
    server.feed({"type": "websocket.connect"})
    await ws.deny(404)
    assert seen == ["refused", "closed"]  # as for a close before accept: a registry ignores it
    assert ws.closed
    assert server.sent == [
        {"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE, "reason": ""}
    ]


async def test_deny_after_the_client_gave_up_raises_its_disconnect() -> None:
    server = FakeServer()
    ws = server.socket()
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    with pytest.raises(WebSocketDisconnect) as info:
        await ws.deny(403)
    assert info.value.code == CloseCode.GOING_AWAY
    assert server.sent == []  # nothing to answer: the client is gone


async def test_deny_after_accept_is_a_state_error() -> None:
    ws = await FakeServer().accepted_socket()
    with pytest.raises(InvalidStateError):
        await ws.deny(403)


@pytest.mark.parametrize("status", [101, 199, 600, "401", True], ids=repr)
def test_a_denial_status_must_be_200_to_599(status: Any) -> None:
    with pytest.raises(ValueError, match="A denial's status must be"):
        denial_events(status)


@pytest.mark.parametrize(
    "headers",
    [{"x-a": "1\r\nInjected: yes"}, [(b"bad:name", b"v")], [(b"", b"v")]],
    ids=["crlf-value", "colon-name", "empty-name"],
)
def test_a_denial_header_cannot_inject_lines(headers: Any) -> None:
    with pytest.raises(ValueError, match="contains a forbidden character"):
        denial_events(401, b"", headers)


def test_a_denial_body_must_be_text_or_bytes() -> None:
    with pytest.raises(TypeError, match="A denial's body must be str or bytes, got dict."):
        denial_events(400, {"a": 1})  # type: ignore[arg-type]


def test_denial_events_are_the_extensions_two() -> None:
    assert denial_events(401, b"x", {"WWW-Authenticate": "Basic"}) == [
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", b"Basic")],
        },
        {"type": "websocket.http.response.body", "body": b"x", "more_body": False},
    ]


# -- basic_auth and process_request -----------------------------------------------------------


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


async def check_password(username: str, password: str) -> bool:
    return (username, password) == ("ada", "s3cret")


async def basic_handler(ws: WebSocket) -> None:
    user = await basic_auth(ws, check_password, realm="feed")
    if user is not None:
        await ws.accept()
        await ws.send_text(f"hello {user}")


CHALLENGE = [
    ("www-authenticate", 'Basic realm="feed", charset="UTF-8"'),
    ("content-type", "text/plain; charset=utf-8"),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("ada", "wrong"),
        {"authorization": "Basic !!!not-base64"},
        {"authorization": "Bearer abc"},
        {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=["missing", "wrong-password", "bad-base64", "other-scheme", "no-colon"],
)
async def test_basic_auth_refuses_with_401_and_a_challenge(headers: dict[str, str]) -> None:
    with pytest.raises(HandshakeRejected) as info:
        await connect(basic_handler, headers=headers).connect()
    assert (info.value.status_code, info.value.headers, info.value.body) == (
        401,
        CHALLENGE,
        b"Authentication required.\n",
    )


async def test_basic_auth_lets_good_credentials_in() -> None:
    async with connect(basic_handler, headers=basic("ada", "s3cret")) as ws:
        assert await ws.receive_text() == "hello ada"


async def test_basic_auth_takes_a_sync_check() -> None:
    async def handler(ws: WebSocket) -> None:
        if await basic_auth(ws, lambda u, p: p == "pw") is not None:
            await ws.accept()

    async with connect(handler, headers=basic("bob", "pw")) as ws:
        assert ws.subprotocol is None


def test_basic_auth_refuses_a_realm_that_would_break_the_header() -> None:
    with pytest.raises(ValueError, match="A Basic realm cannot hold quotes"):
        asyncio.run(basic_auth(None, check_password, realm='a"b'))  # type: ignore[arg-type]


def health(ws: WebSocket) -> HTTPResponse | None:
    return HTTPResponse(200, "OK\n") if ws.query_params.get("health") else None


@process_request(health)
async def guarded(ws: WebSocket) -> None:
    await ws.accept()
    await ws.send_text("handler ran")


async def test_process_request_answers_with_the_hooks_response() -> None:
    with pytest.raises(HandshakeRejected) as info:
        await connect(guarded, "/ws/?health=1").connect()
    assert (info.value.status_code, info.value.body) == (200, b"OK\n")


async def test_process_request_runs_the_handler_when_the_hook_returns_none() -> None:
    async with connect(guarded) as ws:
        assert await ws.receive_text() == "handler ran"


async def test_process_request_takes_an_async_hook_and_headers() -> None:
    async def hook(ws: WebSocket) -> HTTPResponse:
        return HTTPResponse(503, b"", {"Retry-After": "5"})

    @process_request(hook)
    async def handler(ws: WebSocket) -> None:
        raise AssertionError("the hook answered")

    with pytest.raises(HandshakeRejected) as info:
        await connect(handler).connect()
    assert (info.value.status_code, info.value.headers) == (503, [("retry-after", "5")])


# -- last words on shutdown -------------------------------------------------------------------


def farewell_handler(events: list[str]) -> Any:
    async def handler(ws: WebSocket) -> None:
        await ws.accept()

        async def goodbye() -> None:
            await ws.send_json({"type": "server.shutdown"})
            events.append("said goodbye")

        ws.on_shutdown(goodbye)
        async for _ in ws:
            pass

    return handler


async def test_shutdown_runs_each_open_sockets_callbacks() -> None:
    events: list[str] = []
    async with connect(farewell_handler(events)) as ws:
        await ws.send_text("ready?")  # the handler is in its loop
        assert await lifecycle.registry.shutdown(TIMEOUT) == 1
        assert await ws.receive_json() == {"type": "server.shutdown"}
    assert events == ["said goodbye"]


class Feed(Consumer):
    """README's recipe: a Consumer's last words, registered in connect()."""

    async def connect(self) -> None:
        await self.ws.accept()
        self.ws.on_shutdown(lambda: self.ws.send_json({"type": "server.restarting", "retry_in": 5}))


async def test_a_consumer_registers_its_last_words_in_connect() -> None:
    async with AsyncWebSocketClient(route(Feed), timeout=TIMEOUT).websocket_connect("/ws/") as ws:
        await ws.send_json({"type": "hello"})  # the consumer is in its loop (unknown: an error)
        assert (await ws.receive_json())["type"] == "error"
        assert await lifecycle.registry.shutdown(TIMEOUT) == 1
        assert await ws.receive_json() == {"type": "server.restarting", "retry_in": 5}


async def test_a_failing_or_slow_callback_is_logged_or_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended: list[str] = []

    async def handler(ws: WebSocket) -> None:
        await ws.accept()

        async def fails() -> None:
            raise RuntimeError("boom")

        async def hangs() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                ended.append("cancelled")
                raise

        async def speaks() -> None:
            await ws.send_text("last words")

        for callback in (fails, hangs, speaks):
            ws.on_shutdown(callback)
        async for _ in ws:
            pass

    async with connect(handler) as ws:
        await ws.send_text("ready?")
        with caplog.at_level(logging.ERROR, logger="wsapp"):
            assert await lifecycle.registry.shutdown(scaled(0.2)) == 3
        assert await ws.receive_text() == "last words"
    assert ended == ["cancelled"]
    assert "Error in an on_shutdown callback" in caplog.text
    assert "RuntimeError: boom" in caplog.text


async def test_a_closed_sockets_callbacks_do_not_run() -> None:
    events: list[str] = []

    async def note() -> None:
        events.append("ran")

    ws = await FakeServer().accepted_socket()
    ws.on_shutdown(note)
    await ws.close()
    assert await lifecycle.registry.shutdown(TIMEOUT) == 0
    assert events == []


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("CONNECT_TIMEOUT", 0, "Use a positive number of seconds."),
        ("CONNECT_TIMEOUT", None, "Use a positive number of seconds."),
        ("PING_INTERVAL", -1, "Use a positive number of seconds, or None."),
    ],
)
def test_bad_timeouts_are_e004(key: str, value: Any, hint: str) -> None:
    with override_settings(WSAPP={key: value}):
        assert check_settings() == [
            Error(f'WSAPP["{key}"] is {value!r}.', hint=hint, id="wsapp.E004")
        ]


@pytest.mark.parametrize(("key", "value"), [("PING_INTERVAL", None), ("CONNECT_TIMEOUT", 2.5)])
def test_good_timeouts_pass(key: str, value: Any) -> None:
    with override_settings(WSAPP={key: value}):
        assert check_settings() == []
