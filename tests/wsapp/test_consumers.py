"""``wsapp.Consumer``: dispatch by ``type`` to ``@event`` methods only, and the error policy."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import override_settings

from tests.wsapp.helpers import connect
from wsapp import Consumer, event
from wsapp.codes import CloseCode
from wsapp.exceptions import InvalidMessage, PermissionDenied, RoomClosed
from wsapp.testing import HandshakeRejected

INTERNAL_ERROR_FRAME = {
    "type": "error",
    "code": "internal_error",
    "message": "The server failed to handle this message.",
}
INVALID_MESSAGE_FRAME = {
    "type": "error",
    "code": "invalid_message",
    "message": 'Expected a JSON object with a "type".',
}


def unknown_type(name: str) -> dict[str, str]:
    return {"type": "error", "code": "unknown_type", "message": f"Unknown message type {name!r}."}


class Chat(Consumer):
    """A consumer with events, helpers and a Channels-style handler that must stay private."""

    calls: list[tuple[str, Any]]

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.calls = []

    @event("chat.message")
    async def on_message(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "chat.message", "body": content["body"]})

    @event("ping")
    async def ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    @event("validate")
    async def validate(self, content: dict[str, Any]) -> None:
        if "body" not in content:
            raise InvalidMessage('"body" is required.')
        if content["body"] == "":
            raise InvalidMessage("Empty body.", error_code="empty_body")
        await self.send_json({"type": "valid"})

    @event("boom")
    async def boom(self, content: dict[str, Any]) -> None:
        raise ZeroDivisionError("boom")

    @event("leave")
    async def leave(self, content: dict[str, Any]) -> None:
        await self.close(CloseCode.GOING_AWAY, "left")

    @event("close-room")
    async def close_room(self, content: dict[str, Any]) -> None:
        raise RoomClosed()

    async def helper(self, content: dict[str, Any]) -> None:
        self.calls.append(("helper", content))
        await self.send_json({"type": "leaked", "method": "helper"})

    async def room_message(self, content: dict[str, Any]) -> None:
        """A Channels-style layer handler: never reachable from a client."""
        self.calls.append(("room_message", content))
        await self.send_json({"type": "leaked", "method": "room_message"})


class Tracking(Chat):
    """Records the code ``disconnect()`` gets, in a list the test can read."""

    codes: list[int] = []

    async def disconnect(self, code: int) -> None:
        type(self).codes.append(code)


@pytest.fixture
def tracking() -> type[Tracking]:
    class Tracked(Tracking):
        codes: list[int] = []

    return Tracked


# -- dispatch ----------------------------------------------------------------------------------


def test_events_map_types_to_method_names() -> None:
    assert Chat._events == {
        "chat.message": "on_message",
        "ping": "ping",
        "validate": "validate",
        "boom": "boom",
        "leave": "leave",
        "close-room": "close_room",
    }


async def test_a_message_is_dispatched_by_its_type() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "chat.message", "body": "hi"})
        assert await ws.receive_json() == {"type": "chat.message", "body": "hi"}


async def test_self_ws_is_the_connection() -> None:
    seen: list[Any] = []

    class Probe(Consumer):
        async def connect(self) -> None:
            seen.append((self.ws.path, self.scope is self.ws.scope))
            await super().connect()

    async with connect(Probe):
        pass
    assert seen == [("/ws/", True)]


async def test_an_unknown_type_gets_an_error_frame_and_the_connection_stays_open() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "nope"})
        assert await ws.receive_json() == unknown_type("nope")
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    "name",
    [
        "disconnect",
        "connect",
        "send_json",
        "send_error",
        "close",
        "run",
        "dispatch",
        "on_text",
        "on_json_frame",
        "receive_text",
        "receive_raw_json",
        "__init__",
        "__class__",
        "helper",  # a method of the same name, without @event
        "room_message",  # a Channels-style layer handler
        "room.message",  # ... named the way Channels maps dotted types to methods
        "on_message",  # the method name of an event registered under another type
    ],
)
async def test_only_event_methods_are_reachable(name: str) -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": name, "body": "x"})
        assert await ws.receive_json() == unknown_type(name)
        assert await ws.receive_nothing(0.02)
        await ws.send_json({"type": "ping"})  # still open, nothing was called
        assert await ws.receive_json() == {"type": "pong"}


# -- malformed messages ------------------------------------------------------------------------


async def test_bad_json_gets_an_invalid_json_error_frame() -> None:
    async with connect(Chat) as ws:
        await ws.send_text("{bad")
        assert await ws.receive_json() == {
            "type": "error",
            "code": "invalid_json",
            "message": "Invalid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        }
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    "raw",
    ["[1, 2]", '"text"', "3", "null", "{}", '{"body": "no type"}', '{"type": 1}', '{"type": null}'],
    ids=[
        "array",
        "string",
        "number",
        "null",
        "empty-object",
        "no-type",
        "numeric-type",
        "null-type",
    ],
)
async def test_a_message_that_is_not_an_object_with_a_type_is_invalid(raw: str) -> None:
    async with connect(Chat) as ws:
        await ws.send_text(raw)
        assert await ws.receive_json() == INVALID_MESSAGE_FRAME


async def test_invalid_message_raised_by_a_handler_gets_an_error_frame() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "validate"})
        assert await ws.receive_json() == {
            "type": "error",
            "code": "invalid_message",
            "message": '"body" is required.',
        }
        await ws.send_json({"type": "validate", "body": "ok"})
        assert await ws.receive_json() == {"type": "valid"}


async def test_invalid_message_with_its_own_error_code() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "validate", "body": ""})
        assert await ws.receive_json() == {
            "type": "error",
            "code": "empty_body",
            "message": "Empty body.",
        }


@override_settings(WSAPP={"MAX_INVALID_FRAMES": 3})
async def test_max_invalid_frames_in_a_row_close_with_4400() -> None:
    async with connect(Chat) as ws:
        await ws.send_text("{bad")
        await ws.send_json({"type": "nope"})
        await ws.send_json([])
        assert [(await ws.receive_json())["code"] for _ in range(3)] == [
            "invalid_json",
            "unknown_type",
            "invalid_message",
        ]
        assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "3 malformed messages in a row.")


@override_settings(WSAPP={"MAX_INVALID_FRAMES": 3})
async def test_a_valid_message_resets_the_invalid_frame_count() -> None:
    async with connect(Chat) as ws:
        for _ in range(3):
            await ws.send_json({"type": "nope"})
            await ws.send_json({"type": "nope"})
            await ws.send_json({"type": "ping"})
            assert [(await ws.receive_json())["type"] for _ in range(3)] == [
                "error",
                "error",
                "pong",
            ]
        assert await ws.receive_nothing(0.02)


async def test_the_default_limit_is_ten_invalid_frames() -> None:
    async with connect(Chat) as ws:
        for _ in range(9):
            await ws.send_json({"type": "nope"})
            assert await ws.receive_json() == unknown_type("nope")
        await ws.send_json({"type": "nope"})
        assert await ws.receive_json() == unknown_type("nope")
        assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "10 malformed messages in a row.")


# -- hostile JSON ------------------------------------------------------------------------------


class Echo(Consumer):
    """JSON back as it came (the demo's json-echo), and two application bugs to provoke."""

    @event("echo")
    async def echo(self, content: dict[str, Any]) -> None:
        await self.send_json(content)

    @event("nan")
    async def nan(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "nan", "x": float("nan")})

    @event("deep")
    async def deep(self, content: dict[str, Any]) -> None:
        value: list[Any] = []
        for _ in range(50_000):
            value = [value]
        await self.send_json({"type": "deep", "x": value})


def invalid_json(detail: str) -> dict[str, str]:
    return {"type": "error", "code": "invalid_json", "message": f"Invalid JSON: {detail}"}


SURROGATE_FRAME = {
    "type": "error",
    "code": "invalid_message",
    "message": "The JSON holds a lone surrogate, which is not Unicode text.",
}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records a hostile frame must never cause: errors, or anything with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("depth", [900, 2_000, 50_000])
async def test_deep_nesting_gets_invalid_json_and_no_traceback(
    depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(Echo) as ws:
        await ws.send_text('{"type": "echo", "x": ' + "[" * depth + "]" * depth + "}")
        assert await ws.receive_json() == invalid_json("The JSON is nested deeper than 128 levels.")
        await ws.send_json({"type": "echo", "x": [[["still open"]]]})
        assert await ws.receive_json() == {"type": "echo", "x": [[["still open"]]]}
    assert tracebacks(caplog) == []


@override_settings(WSAPP={"JSON_LOADS": "json.loads"})
async def test_a_custom_loads_that_overflows_the_stack_gets_invalid_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(Echo) as ws:
        await ws.send_text("[" * 50_000)
        frame = await ws.receive_json()
        assert (frame["code"], frame["message"]) == (
            "invalid_json",
            "Invalid JSON: maximum recursion depth exceeded while decoding a JSON array from a "
            "unicode string",
        )
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_get_invalid_json_and_are_never_echoed(constant: str) -> None:
    async with connect(Echo) as ws:
        await ws.send_text(f'{{"type": "echo", "x": {constant}}}')
        assert await ws.receive_text() == (
            '{"type":"error","code":"invalid_json",'
            f'"message":"Invalid JSON: {constant} is not valid JSON (RFC 8259 §6)."}}'
        )


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "echo", "x": "\\ud800"}',
        '{"type": "echo\\udfff"}',
        '{"type": "echo", "\\udc00": 1}',
    ],
    ids=["value", "type", "key"],
)
async def test_a_lone_surrogate_gets_invalid_message_and_is_never_echoed(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(Echo) as ws:
        await ws.send_text(raw)
        assert await ws.receive_json() == SURROGATE_FRAME
        await ws.send_text('{"type": "echo", "x": "\\ud83d\\ude00"}')  # a pair is fine
        assert await ws.receive_json() == {"type": "echo", "x": "😀"}
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("name", ["x" * 101, "\x00" * 60_000], ids=["101-chars", "60k-nuls"])
async def test_an_unknown_type_is_quoted_at_most_100_characters_long(name: str) -> None:
    async with connect(Echo) as ws:
        await ws.send_json({"type": name})
        assert await ws.receive_json() == unknown_type(name[:100] + "…")


@override_settings(WSAPP={"MAX_INVALID_FRAMES": 3})
async def test_lone_surrogates_count_toward_max_invalid_frames() -> None:
    async with connect(Echo) as ws:
        for _ in range(3):
            await ws.send_text('{"type": "echo", "x": "\\ud800"}')
        assert [await ws.receive_json() for _ in range(3)] == [SURROGATE_FRAME] * 3
        assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "3 malformed messages in a row.")


async def test_nan_sent_by_the_application_is_its_error_not_invalid_json_on_the_wire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(Echo) as ws:
        await ws.send_json({"type": "nan"})
        assert await ws.receive_json() == INTERNAL_ERROR_FRAME
    [record] = tracebacks(caplog)
    assert record.getMessage() == "Error handling 'nan' in Echo"
    assert record.exc_info is not None and record.exc_info[0] is ValueError


async def test_a_repeated_application_error_logs_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(Echo) as ws:
        for _ in range(3):
            await ws.send_json({"type": "deep"})
            assert await ws.receive_json() == INTERNAL_ERROR_FRAME
        await ws.send_json({"type": "echo"})
        assert await ws.receive_json() == {"type": "echo"}
    records = tracebacks(caplog)
    assert [(r.getMessage(), r.exc_info is not None) for r in records] == [
        ("Error handling 'deep' in Echo", True),
        *[
            (
                "Error handling 'deep' in Echo again (ValueError: The data is nested too deeply "
                "to encode as JSON.); its traceback was logged before",
                False,
            )
        ]
        * 2,
    ]
    assert records[0].exc_info is not None and records[0].exc_info[0] is ValueError


# -- handler errors ----------------------------------------------------------------------------


async def test_an_exception_in_an_event_gets_an_error_frame_and_the_connection_stays_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "boom"})
        assert await ws.receive_json() == INTERNAL_ERROR_FRAME
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (record.name, record.levelname, record.getMessage()) == (
        "wsapp",
        "ERROR",
        "Error handling 'boom' in Chat",
    )
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


class ClosedUnderfoot(Chat):
    @event("closed.underfoot")
    async def closed_underfoot(self, content: dict[str, Any]) -> None:
        # What a hub's resync (or a kick) does from another task while this handler runs.
        await self.ws.close(CloseCode.SERVICE_RESTART, "Resync.")
        await self.send_json({"type": "too late"})


async def test_a_socket_closed_by_another_task_mid_handler_is_a_disconnect_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(ClosedUnderfoot) as ws:
        await ws.send_json({"type": "closed.underfoot"})
        assert await ws.wait_closed() == (CloseCode.SERVICE_RESTART, "Resync.")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_handler_errors_do_not_count_as_invalid_frames() -> None:
    with override_settings(WSAPP={"MAX_INVALID_FRAMES": 2}):
        async with connect(Chat) as ws:
            for _ in range(3):
                await ws.send_json({"type": "boom"})
                assert await ws.receive_json() == INTERNAL_ERROR_FRAME
            await ws.send_json({"type": "ping"})
            assert await ws.receive_json() == {"type": "pong"}


class Strict(Chat):
    close_on_error = True


async def test_close_on_error_closes_with_1011_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with connect(Strict) as ws:
        await ws.send_json({"type": "boom"})
        assert await ws.wait_closed() == (CloseCode.INTERNAL_ERROR, "Internal error.")
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (record.name, record.levelname, record.getMessage()) == (
        "wsapp",
        "ERROR",
        "Unhandled exception in Strict for /ws/",
    )
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


@override_settings(WSAPP={"CLOSE_ON_HANDLER_ERROR": True})
async def test_the_close_on_handler_error_setting_closes_with_1011() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "boom"})
        assert await ws.wait_closed() == (CloseCode.INTERNAL_ERROR, "Internal error.")


@override_settings(WSAPP={"CLOSE_ON_HANDLER_ERROR": True})
async def test_close_on_error_false_on_the_class_wins_over_the_setting() -> None:
    class Lenient(Chat):
        close_on_error = False

    async with connect(Lenient) as ws:
        await ws.send_json({"type": "boom"})
        assert await ws.receive_json() == INTERNAL_ERROR_FRAME


async def test_a_close_connection_raised_in_an_event_closes_with_its_code() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "close-room"})
        assert await ws.wait_closed() == (CloseCode.ROOM_CLOSED, "Room closed.")


@override_settings(WSAPP={"MAX_MESSAGE_SIZE": 16})
async def test_an_oversize_message_closes_with_1009() -> None:
    async with connect(Chat) as ws:
        await ws.send_json({"type": "chat.message", "body": "x" * 20})
        assert await ws.wait_closed() == (
            CloseCode.MESSAGE_TOO_BIG,
            "Message of 53 bytes is over the limit of 16.",
        )


# -- connect() ---------------------------------------------------------------------------------


async def test_connect_accepts_by_default() -> None:
    async with connect(Chat) as ws:
        assert ws.subprotocol is None
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json() == {"type": "pong"}


async def test_a_connect_that_raises_a_reject_is_accepted_then_closed_with_its_code() -> None:
    class Members(Chat):
        async def connect(self) -> None:
            raise PermissionDenied("Members only.")

    async with connect(Members) as ws:
        assert await ws.wait_closed() == (CloseCode.FORBIDDEN, "Members only.")


async def test_a_connect_that_does_not_accept_refuses_the_handshake() -> None:
    class Silent(Chat):
        async def connect(self) -> None:
            pass

    with pytest.raises(HandshakeRejected) as info:
        await connect(Silent).connect()
    assert info.value.code == CloseCode.NORMAL_CLOSURE


async def test_connect_may_choose_the_subprotocol() -> None:
    class Chooser(Chat):
        async def connect(self) -> None:
            await self.ws.accept(subprotocol=self.ws.requested_subprotocols[-1])

    async with connect(Chooser, subprotocols=["a", "b"]) as ws:
        assert ws.subprotocol == "b"


# -- disconnect(code) --------------------------------------------------------------------------


async def test_disconnect_gets_the_clients_close_code(tracking: type[Tracking]) -> None:
    async with connect(tracking) as ws:
        await ws.close(CloseCode.GOING_AWAY, "tab closed")
    assert tracking.codes == [CloseCode.GOING_AWAY]


async def test_disconnect_gets_the_consumers_own_close_code(tracking: type[Tracking]) -> None:
    async with connect(tracking) as ws:
        await ws.send_json({"type": "leave"})
        assert await ws.wait_closed() == (CloseCode.GOING_AWAY, "left")
    assert tracking.codes == [CloseCode.GOING_AWAY]


async def test_disconnect_gets_4400_after_too_many_invalid_frames(
    tracking: type[Tracking],
) -> None:
    with override_settings(WSAPP={"MAX_INVALID_FRAMES": 1}):
        async with connect(tracking) as ws:
            await ws.send_json({"type": "nope"})
            assert (await ws.wait_closed())[0] == CloseCode.BAD_REQUEST
    assert tracking.codes == [CloseCode.BAD_REQUEST]


async def test_disconnect_gets_1011_after_a_handler_error_that_closes(
    tracking: type[Tracking],
) -> None:
    tracking.close_on_error = True
    async with connect(tracking) as ws:
        await ws.send_json({"type": "boom"})
        assert (await ws.wait_closed())[0] == CloseCode.INTERNAL_ERROR
    assert tracking.codes == [CloseCode.INTERNAL_ERROR]


async def test_disconnect_gets_the_reject_code(tracking: type[Tracking]) -> None:
    async with connect(tracking) as ws:
        await ws.send_json({"type": "close-room"})
        assert (await ws.wait_closed())[0] == CloseCode.ROOM_CLOSED
    assert tracking.codes == [CloseCode.ROOM_CLOSED]


async def test_disconnect_is_called_once(tracking: type[Tracking]) -> None:
    async with connect(tracking) as ws:
        await ws.send_json({"type": "ping"})
        await ws.receive_json()
    assert tracking.codes == [CloseCode.NORMAL_CLOSURE]


# -- inheritance -------------------------------------------------------------------------------


class Base(Consumer):
    @event("a")
    async def a(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "a", "from": "base"})

    @event("b")
    async def b(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "b", "from": "base"})


class Child(Base):
    @event("b")
    async def b_again(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "b", "from": "child"})

    @event("c")
    async def c(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "c", "from": "child"})


class Overrider(Base):
    async def a(self, content: dict[str, Any]) -> None:  # overrides without re-decorating
        await self.send_json({"type": "a", "from": "overrider"})


async def test_a_subclass_inherits_its_bases_events() -> None:
    async with connect(Child) as ws:
        await ws.send_json({"type": "a"})
        assert await ws.receive_json() == {"type": "a", "from": "base"}


async def test_a_subclass_may_rebind_an_event_type_to_another_method() -> None:
    async with connect(Child) as ws:
        await ws.send_json({"type": "b"})
        assert await ws.receive_json() == {"type": "b", "from": "child"}


async def test_a_subclass_overriding_an_event_method_keeps_the_event() -> None:
    async with connect(Overrider) as ws:
        await ws.send_json({"type": "a"})
        assert await ws.receive_json() == {"type": "a", "from": "overrider"}


async def test_a_base_class_does_not_see_its_subclasses_events() -> None:
    assert Base._events == {"a": "a", "b": "b"}
    assert Child._events == {"a": "a", "b": "b_again", "c": "c"}
    async with connect(Base) as ws:
        await ws.send_json({"type": "c"})
        assert await ws.receive_json() == unknown_type("c")


# -- binary JSON mode --------------------------------------------------------------------------


class BinaryChat(Chat):
    json_mode = "binary"


async def test_binary_json_mode_receives_and_sends_binary_frames() -> None:
    async with connect(BinaryChat) as ws:
        await ws.send_json({"type": "chat.message", "body": "é"}, mode="binary")
        assert await ws.receive_bytes() == '{"type":"chat.message","body":"é"}'.encode()


async def test_binary_json_mode_sends_error_frames_as_binary() -> None:
    async with connect(BinaryChat) as ws:
        await ws.send_bytes(b'{"type": "nope"}')
        assert await ws.receive_json(mode="binary") == unknown_type("nope")


async def test_binary_json_mode_refuses_text_frames_with_1003() -> None:
    async with connect(BinaryChat) as ws:
        await ws.send_text('{"type": "ping"}')
        assert await ws.wait_closed() == (
            CloseCode.UNSUPPORTED_DATA,
            "This endpoint takes binary JSON frames.",
        )


async def test_text_json_mode_refuses_binary_frames_with_1003() -> None:
    async with connect(Chat) as ws:
        await ws.send_bytes(b'{"type": "ping"}')
        assert await ws.wait_closed() == (
            CloseCode.UNSUPPORTED_DATA,
            "This endpoint takes JSON text frames.",
        )


# -- @event ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "has space", "x" * 101, ".leading-dot", "new\nline", 7, None],
    ids=["empty", "space", "too-long", "leading-dot", "newline", "int", "none"],
)
def test_event_refuses_a_type_that_is_not_a_dotted_name(name: Any) -> None:
    with pytest.raises(ValueError) as info:
        event(name)
    assert str(info.value) == f"{name!r} is not a valid event type (e.g. 'chat.message')."


@pytest.mark.parametrize("name", ["a", "chat.message", "room:join", "x" * 100, "v2_update-now"])
def test_event_accepts_dotted_names(name: str) -> None:
    async def handler(self: Any, content: Any) -> None:
        pass

    assert event(name)(handler) is handler
    assert handler._wsapp_event == name  # type: ignore[attr-defined]


# -- hooks and their deprecated names ----------------------------------------------------------


class Shout(Consumer):
    """A non-JSON protocol, on the hook names."""

    async def on_text(self, text: str) -> None:
        await self.ws.send_text(text.upper())

    async def on_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data[::-1])


async def test_on_text_and_on_bytes_are_the_frame_hooks() -> None:
    async with connect(Shout) as ws:
        await ws.send_text("hi")
        assert await ws.receive_text() == "HI"
        await ws.send_bytes(b"\x01\x02")
        assert await ws.receive_bytes() == b"\x02\x01"


def old_hook_class(old: str) -> type[Consumer]:
    """A subclass written against the hook's old name, which calls the base hook through it."""
    if old == "receive_text":

        async def receive_text(self: Consumer, text: str) -> None:
            await self.ws.send_text("old:" + text)
            await super(cls, self).receive_text(text)  # type: ignore[misc]

        body: dict[str, Any] = {"receive_text": receive_text}
    elif old == "receive_bytes":

        async def receive_bytes(self: Consumer, data: bytes) -> None:
            await self.ws.send_text("old:" + data.decode())
            await super(cls, self).receive_bytes(data)  # type: ignore[misc]

        body = {"receive_bytes": receive_bytes, "json_mode": "binary"}
    else:

        async def receive_raw_json(self: Consumer, raw: str | bytes) -> None:
            await self.ws.send_text("old:" + str(raw))
            await super(cls, self).receive_raw_json(raw)  # type: ignore[misc]

        body = {"receive_raw_json": receive_raw_json}
    cls = type("Legacy", (Chat,), body)
    return cls


@pytest.mark.parametrize(
    ("old", "new", "frame"),
    [
        ("receive_text", "on_text", '{"type": "ping"}'),
        ("receive_bytes", "on_bytes", b'{"type": "ping"}'),
        ("receive_raw_json", "on_json_frame", '{"type": "ping"}'),
    ],
)
async def test_an_override_of_an_old_hook_name_warns_and_still_runs(
    old: str, new: str, frame: str | bytes
) -> None:
    with pytest.warns(DeprecationWarning) as warned:
        legacy = old_hook_class(old)
    assert [str(w.message) for w in warned] == [
        f"Legacy.{old}() is deprecated: override {new}() instead."
    ]
    async with connect(legacy) as ws:
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
            assert await ws.receive_text() == "old:" + frame.decode()
            assert await ws.receive_json(mode="binary") == {"type": "pong"}
        else:
            await ws.send_text(frame)
            assert await ws.receive_text() == "old:" + frame
            assert await ws.receive_json() == {"type": "pong"}
