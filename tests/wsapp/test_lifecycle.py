"""``wsapp.lifecycle``: the registry of open connections and its observers, and the close policy."""

from __future__ import annotations

import logging

import pytest

from tests.wsapp.helpers import FakeServer, connect
from wsapp import lifecycle, metrics
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.exceptions import (
    InvalidStateError,
    PermissionDenied,
    RoomClosed,
    TooManyConnections,
    WebSocketDisconnect,
)
from wsapp.hub.users import UserIndex
from wsapp.lifecycle import Registry


class Recorder:
    """An observer that writes down what it was told, tagged with its name."""

    def __init__(self, name: str, log: list[tuple[str, str]], refuse: bool = False) -> None:
        self.name, self.log, self.refuse = name, log, refuse

    async def on_accept(self, ws: WebSocket) -> None:
        self.log.append((self.name, "accept"))
        if self.refuse:
            raise TooManyConnections("At most 1 connection per user; close one and retry.")

    def on_close(self, ws: WebSocket) -> None:
        self.log.append((self.name, "close"))

    def on_refuse(self, ws: WebSocket) -> None:
        self.log.append((self.name, "refuse"))


async def test_observers_hear_of_accept_and_close_in_the_order_registered() -> None:
    log: list[tuple[str, str]] = []
    registry = Registry()
    registry.observe(Recorder("first", log), Recorder("second", log))
    ws = await FakeServer().accepted_socket(tracker=registry)
    assert registry.connections() == [ws]
    await ws.close()
    assert log == [
        ("first", "accept"),
        ("second", "accept"),
        ("first", "close"),
        ("second", "close"),
    ]
    assert registry.connections() == []


def test_observing_twice_registers_once() -> None:
    registry = Registry()
    observer = Recorder("only", [])
    registry.observe(observer)
    registry.observe(observer, observer)
    assert registry.observers == (observer,)


async def test_a_close_is_told_once_whoever_closes_and_however_often() -> None:
    log: list[tuple[str, str]] = []
    registry = Registry()
    registry.observe(Recorder("r", log))
    server = FakeServer()
    ws = await server.accepted_socket(tracker=registry)
    server.feed({"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY})
    await ws.receive()
    await ws.close()
    await ws.close()
    assert log == [("r", "accept"), ("r", "close")]


async def test_a_refused_handshake_is_told_as_a_refusal_not_a_close() -> None:
    log: list[tuple[str, str]] = []
    registry = Registry()
    registry.observe(Recorder("r", log))
    server = FakeServer()
    ws = server.socket(tracker=registry)
    server.feed({"type": "websocket.connect"})
    await ws.receive()
    await ws.close(CloseCode.POLICY_VIOLATION)
    assert (log, registry.connections()) == ([("r", "refuse")], [])


async def test_an_observer_that_rejects_stops_the_ones_after_it_and_the_close_reaches_all() -> None:
    log: list[tuple[str, str]] = []
    registry = Registry()
    registry.observe(Recorder("first", log, refuse=True), Recorder("second", log))
    server = FakeServer()
    ws = server.socket(tracker=registry)
    server.feed({"type": "websocket.connect"})
    with pytest.raises(TooManyConnections):
        await lifecycle.close_for(ws, PermissionDenied("No."))  # accepts first: a Reject
    assert log == [("first", "accept")]
    await ws.close(TooManyConnections.code)
    assert log == [("first", "accept"), ("first", "close"), ("second", "close")]


async def test_a_socket_built_without_a_tracker_is_known_to_no_registry() -> None:
    ws = await FakeServer().accepted_socket(tracker=None)
    assert ws not in lifecycle.connections()
    await ws.close()


async def test_connections_returns_a_copy() -> None:
    registry = Registry()
    ws = await FakeServer().accepted_socket(tracker=registry)
    registry.connections().clear()
    assert registry.connections() == [ws]


def test_ready_registers_the_counters_then_the_user_index() -> None:
    observers = lifecycle.registry.observers
    assert [type(o) for o in observers] == [metrics.Totals, UserIndex]
    assert observers[0] is metrics.totals


def test_the_counters_survive_a_reset_as_the_registered_observer() -> None:
    metrics.reset()
    assert lifecycle.registry.observers[0] is metrics.totals


# -- the close policy ---------------------------------------------------------------------------


async def _returns(ws: WebSocket) -> None:
    await ws.accept()


async def _raises_close(ws: WebSocket) -> None:
    await ws.accept()
    raise RoomClosed("This room is archived.")


async def _raises_reject_before_accept(ws: WebSocket) -> None:
    raise PermissionDenied("Members only.")


async def _raises_bug(ws: WebSocket) -> None:
    await ws.accept()
    raise ZeroDivisionError


async def _peer_left(ws: WebSocket) -> None:
    await ws.accept()
    raise WebSocketDisconnect(CloseCode.GOING_AWAY)


@pytest.mark.parametrize(
    ("handler", "closed"),
    [
        pytest.param(_returns, (CloseCode.NORMAL_CLOSURE, ""), id="returns-1000"),
        pytest.param(_raises_close, (CloseCode.ROOM_CLOSED, "This room is archived."), id="close"),
        pytest.param(
            _raises_reject_before_accept,
            (CloseCode.FORBIDDEN, "Members only."),
            id="reject-before-accept-is-accepted-then-closed",
        ),
        pytest.param(_raises_bug, (CloseCode.INTERNAL_ERROR, "Internal error."), id="bug-1011"),
        pytest.param(_peer_left, (CloseCode.NORMAL_CLOSURE, ""), id="peer-left-then-1000"),
    ],
)
async def test_a_handlers_outcome_becomes_its_close(handler, closed) -> None:
    async with connect(handler) as ws:
        assert await ws.wait_closed() == closed


async def test_an_unhandled_exception_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(_raises_bug) as ws:
        await ws.wait_closed()
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.getMessage() == "Unhandled exception in websocket handler for /ws/"
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


async def test_escalate_keeps_the_connection_for_an_application_error() -> None:
    ws = await FakeServer().accepted_socket()
    error = ValueError("bad")
    assert lifecycle.escalate(ws, error, close_on_error=False) is None
    assert lifecycle.escalate(ws, error, close_on_error=True) is error
    closing = RoomClosed("Archived.")
    assert lifecycle.escalate(ws, closing, close_on_error=False) is closing
    await ws.close()


async def test_escalate_turns_a_send_on_a_socket_closed_underfoot_into_a_disconnect() -> None:
    ws = await FakeServer().accepted_socket()
    await ws.close(CloseCode.SERVICE_RESTART, "Resync.")
    fatal = lifecycle.escalate(ws, InvalidStateError("send", "x", "y"), close_on_error=False)
    assert isinstance(fatal, WebSocketDisconnect)
    assert (fatal.code, fatal.reason) == (CloseCode.SERVICE_RESTART, "Resync.")
