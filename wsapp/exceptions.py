"""Every exception wsapp raises. Connection-level ones carry the close code they end with.

    WsappError
    ├── WebSocketDisconnect(code, reason)     the peer is gone; raised by receive*/send*
    ├── InvalidStateError(current, expected)  an operation in the wrong connection state
    ├── NotSupported                          the server lacks a feature (e.g. protocol ping)
    └── CloseConnection(code, reason)         raise it to end the connection with that code
        ├── FrameError                        a frame the handler cannot use
        │   ├── UnsupportedData               1003: text where bytes were expected, or back
        │   │                                 (also a TypeError)
        │   ├── InvalidPayload                1007: bad JSON or UTF-8 (also a ValueError)
        │   └── MessageTooBig                 1009: over WSAPP["MAX_MESSAGE_SIZE"]
        ├── Reject                            a refusal (accepted, then closed: browsers
        │   │                                 cannot read a handshake's HTTP status)
        │   ├── NotAuthenticated              4401
        │   │   └── InvalidToken              4401: a bad, expired or revoked signed token
        │   ├── PermissionDenied              4403
        │   ├── RoomNotFound                  4404
        │   ├── TooManyConnections            4409
        │   ├── RoomClosed                    4410
        │   ├── RateLimited                   4429
        │   ├── RoomFull                      4503: the room is at its ``max_members``
        │   ├── LayerUnavailable              1013: the channel layer (Redis) is away; retry
        │   └── DatabaseUnavailable           1013: the database is away; retry
        └── BadRequest                        4400: repeated malformed protocol messages

``UnsupportedData`` is also a ``TypeError`` and ``InvalidPayload`` a ``ValueError`` (as
``InvalidStateError`` is a ``RuntimeError``), because that is what code ported from Starlette,
Sanic, Quart, BlackSheep or ``websockets`` catches around ``receive_json()`` to answer one bad
frame and read on. Caught, the frame is consumed and the connection stays open;
``MAX_INVALID_FRAMES`` such refusals in a row end it with 4400 (``BadRequest``) at the next
receive. Uncaught, each still closes with its own code.

``InvalidText`` (also a ``ValueError``) is what the default JSON codec raises for text that no UTF-8
encoder can write, such as a lone surrogate; a Consumer answers it with ``invalid_message``.

``InvalidMessage`` is not a close: a Consumer event handler raises it to answer one message with an
``error`` frame (code ``invalid_message``) and keep the connection open.
"""

from __future__ import annotations

from typing import ClassVar

from wsapp.codes import CloseCode


class WsappError(Exception):
    """Base of every wsapp exception."""


class WebSocketDisconnect(WsappError):
    """The peer closed the connection (or it dropped: 1006)."""

    def __init__(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class InvalidStateError(WsappError, RuntimeError):
    """An operation that the connection's current state does not allow."""

    def __init__(self, operation: str, current: object, expected: object) -> None:
        self.operation = operation
        self.current = current
        self.expected = expected
        super().__init__(f"Cannot {operation}: the connection is {current}, expected {expected}.")


class NotSupported(WsappError):
    """The server running the application does not offer this feature."""


class CloseConnection(WsappError):
    """Raise from a handler to close the connection with ``code`` and ``reason``."""

    code: ClassVar[int] = CloseCode.NORMAL_CLOSURE
    default_reason: ClassVar[str] = ""

    def __init__(self, reason: str | None = None, *, code: int | None = None) -> None:
        self.reason = self.default_reason if reason is None else reason
        if code is not None:
            self.code = code  # type: ignore[misc]
        super().__init__(self.reason)


class FrameError(CloseConnection):
    """A frame the handler cannot use; uncaught, it closes the connection with its code."""


class UnsupportedData(FrameError, TypeError):
    """A text frame where binary was expected, or the reverse: the frame was read and is gone."""

    code = CloseCode.UNSUPPORTED_DATA
    default_reason = "Unsupported frame type."


class InvalidPayload(FrameError, ValueError):
    """Not JSON, or text that is not UTF-8: the frame was read and is gone."""

    code = CloseCode.INVALID_PAYLOAD
    default_reason = "Invalid payload."


class MessageTooBig(FrameError):
    code = CloseCode.MESSAGE_TOO_BIG
    default_reason = "Message too big."


class Reject(CloseConnection):
    """Refuse the connection. Before accept it is accepted first, so the client sees the code."""

    code = CloseCode.FORBIDDEN
    default_reason = "Refused."


class NotAuthenticated(Reject):
    code = CloseCode.NOT_AUTHENTICATED
    default_reason = "Authentication required."


class InvalidToken(NotAuthenticated):
    """A signed token that does not authenticate anyone; ``reason`` says why (for the client)."""

    default_reason = "Invalid token."


class PermissionDenied(Reject):
    code = CloseCode.FORBIDDEN
    default_reason = "Permission denied."


class RoomNotFound(Reject):
    code = CloseCode.ROOM_NOT_FOUND
    default_reason = "No such room."


class TooManyConnections(Reject):
    code = CloseCode.TOO_MANY_CONNECTIONS
    default_reason = "Too many connections for this user."


class RoomClosed(Reject):
    code = CloseCode.ROOM_CLOSED
    default_reason = "Room closed."


class RateLimited(Reject):
    code = CloseCode.RATE_LIMITED
    default_reason = "Rate limit exceeded."


class RoomFull(Reject):
    """A room at its ``max_members``: closed with 4503, not 4429, since the client sent nothing
    too fast; it joined a room with no seat left. Like every application code it is not followed
    by an automatic reconnect: a seat frees only when someone leaves, so a client offers a manual
    retry instead of hammering the shared seat count."""

    code = CloseCode.ROOM_FULL
    default_reason = "Room full."


class LayerUnavailable(Reject):
    """The channel layer (Redis) cannot be reached: the client should reconnect shortly.

    ``reason`` is what the client sees, so it names no host; ``detail`` keeps the cause for logs.
    """

    # RFC 6455 §7.4.1 / IANA registry: 1013 = try again later; wsapp.js reconnects after it.
    code = CloseCode.TRY_AGAIN_LATER
    default_reason = "The server is briefly unavailable; try again."

    def __init__(self, detail: str = "", *, reason: str | None = None) -> None:
        self.detail = detail
        super().__init__(reason)


class DatabaseUnavailable(Reject):
    """The database cannot be reached: the client should reconnect shortly and resend.

    ``reason`` is what the client sees; ``detail`` keeps the driver's message for logs.
    """

    # RFC 6455 §7.4.1 / IANA registry: 1013 = try again later; wsapp.js reconnects after it.
    code = CloseCode.TRY_AGAIN_LATER
    default_reason = "The database is briefly unavailable; try again."

    def __init__(self, detail: str = "", *, reason: str | None = None) -> None:
        self.detail = detail
        super().__init__(reason)


class BadRequest(CloseConnection):
    code = CloseCode.BAD_REQUEST
    default_reason = "Too many malformed messages."


class InvalidMessage(WsappError):
    """One bad protocol message: answered with an ``error`` frame, the connection stays open."""

    error_code: ClassVar[str] = "invalid_message"

    def __init__(self, message: str, *, error_code: str | None = None) -> None:
        self.message = message
        if error_code is not None:
            self.error_code = error_code  # type: ignore[misc]
        super().__init__(message)


class InvalidText(WsappError, ValueError):
    """Decoded text that is not Unicode (a lone surrogate): no encoder, database or socket takes it."""
