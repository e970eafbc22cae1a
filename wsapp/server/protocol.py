"""The websocket protocol of ``manage.py serve``: Daphne's, with its gaps closed.

Daphne's ``WebSocketProtocol`` drops close reasons, empty messages and handshake headers, raises
on close codes autobahn's ``sendClose()`` refuses (1001, 1009, 1011, 1013), queues incoming
messages without bound and writes to a client that does not read without bound. This subclass
keeps Daphne's handshake and scope, and changes only what the application's messages do:

- ``websocket.close`` sends its ``code`` and ``reason`` (cut to 123 UTF-8 bytes);
- ``websocket.send`` sends empty text and bytes, and refuses a message with both or neither;
- ``wsapp.ping`` sends a protocol ping; its pong comes back as ``wsapp.pong`` (see
  :data:`PING_EXTENSION`);
- reading stops while the application has ``MAX_QUEUE`` messages waiting, and resumes when it
  has drained half of them;
- a client with more than ``MAX_SEND_BUFFER`` bytes waiting to be written is closed with 1013.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterable
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before Twisted picks one)
from daphne.ws_protocol import WebSocketProtocol

from wsapp.codes import CloseCode, is_sendable

logger = logging.getLogger("wsapp.server")

#: The scope extension ``serve`` declares: ``scope["extensions"]["wsapp.ping"] == {}``. The
#: application sends ``{"type": "wsapp.ping", "bytes": payload}`` (at most 125 bytes) and
#: receives ``{"type": "wsapp.pong", "bytes": payload}`` when the client's pong arrives.
PING_EXTENSION = "wsapp.ping"

# RFC 6455 §5.5: control frames carry at most 125 bytes; a close frame's 2-byte code leaves 123.
MAX_CONTROL_PAYLOAD = 125
MAX_CLOSE_REASON = 123
# Unanswered application pings remembered per connection; older ones are forgotten.
MAX_PENDING_PINGS = 32

SHUTDOWN_REASON = "server shutting down"
SEND_BUFFER_REASON = "send buffer full"


def truncate_reason(reason: str) -> bytes:
    """``reason`` as UTF-8, cut to the 123 bytes a close frame allows, on a character boundary."""
    encoded = reason.encode("utf-8", "replace")[:MAX_CLOSE_REASON]
    # A cut inside a multi-byte character leaves an incomplete tail; "ignore" drops just that.
    return encoded.decode("utf-8", "ignore").encode("utf-8")


def buffered_bytes(transport: Any) -> int:
    """Bytes written to ``transport`` that the kernel has not taken yet.

    Twisted's ``FileDescriptor`` keeps them in ``dataBuffer`` (from ``offset`` on) plus
    ``_tempDataBuffer`` (``_tempDataLen`` bytes). A wrapping transport (TLS) passes its
    bytes on to the one below, so the whole chain is summed.
    """
    total = 0
    for _ in range(4):  # TCP, or TLS over TCP: never deeper than a couple of wrappers
        if transport is None:
            break
        data = getattr(transport, "dataBuffer", b"")
        total += len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)
        transport = getattr(transport, "transport", None)
    return total


def quiet_autobahn_debug_formatting() -> None:
    """Make autobahn's debug-log argument helpers lazy.

    autobahn formats the arguments of its debug lines eagerly, logging enabled or not:
    ``hltype``/``hlval`` (``click.style``) run on every frame written. Wrapped, they format only
    if a debug line is ever rendered. Only those helpers, which autobahn passes as log-call
    keyword arguments, are wrapped. Idempotent.
    """
    import autobahn.websocket.protocol as autobahn_protocol

    for name in ("hltype", "hlval", "hl"):
        helper = getattr(autobahn_protocol, name, None)
        if helper is not None and not isinstance(helper, _LazyFormat):
            setattr(autobahn_protocol, name, _LazyFormat(helper))


class _LazyFormat:
    """``helper(...)`` returns a value that calls the real helper only when formatted."""

    __slots__ = ("helper",)

    def __init__(self, helper: Any) -> None:
        self.helper = helper

    def __call__(self, *args: Any, **kwargs: Any) -> _Deferred:
        return _Deferred(self.helper, args, kwargs)


class _Deferred:
    __slots__ = ("args", "helper", "kwargs")

    def __init__(self, helper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.helper, self.args, self.kwargs = helper, args, kwargs

    def __str__(self) -> str:
        return str(self.helper(*self.args, **self.kwargs))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    __repr__ = __str__


def flush(transport: Any, limit: int) -> int:
    """Write ``transport``'s buffer to the socket until it is at most ``limit`` or the kernel
    takes no more; return what is still buffered."""
    buffered = buffered_bytes(transport)
    innermost = transport
    while getattr(innermost, "transport", None) is not None:
        innermost = innermost.transport
    if not hasattr(innermost, "doWrite") or getattr(innermost, "disconnecting", True):
        return buffered
    while buffered > limit:
        # doWrite returns an exception for a broken socket: the reactor's own doWrite reports it.
        if innermost.doWrite() is not None:
            break
        remaining = buffered_bytes(transport)
        if remaining >= buffered:
            break
        buffered = remaining
    return buffered


def _response_headers(headers: Iterable[Any]) -> dict[str, list[str]]:
    """ASGI ``[(name, value), ...]`` byte pairs as autobahn's ``{name: [values]}``.

    Raises:
        ValueError: a header is not a pair of bytes, or would inject a line break.
    """
    result: dict[str, list[str]] = {}
    for pair in headers:
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise ValueError(f"Accept headers must be pairs of bytes, got {pair!r}.")
        if any(c in name + value for c in b"\r\n\0") or b":" in name:
            raise ValueError(f"Accept header {pair!r} contains a forbidden character.")
        result.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    return result


class WsappWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket protocol with reasons, empty frames, pings, and flow control."""

    reading_paused = False
    # Set by autobahn at connection time; declared for the type checker.
    maxMessagePayloadSize: int
    autoPingTimeoutCall: Any

    def onConnect(self, request: Any) -> Any:
        self.app_pings: collections.deque[bytes] = collections.deque(maxlen=MAX_PENDING_PINGS)
        return super().onConnect(request)

    def onOpen(self) -> None:
        super().onOpen()
        if self.server.shutting_down:
            # Accepted during the shutdown grace: it gets the same 1001 as everyone else.
            self.close_for_shutdown()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        limit = self.server.max_message_size
        if limit is not None and len(payload) > limit:
            # autobahn's limit is set one byte higher (see WsappServer): a compressed message
            # that inflates just past autobahn's limit arrives cut to it instead of failing.
            self._fail_connection(CloseCode.MESSAGE_TOO_BIG, f"message over {limit} bytes")
            return
        super().onMessage(payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if queue is not None and not self.reading_paused:
            if queue.qsize() >= self.server.max_queue:
                self.pause_reading()

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        # autobahn's hook; its reason would quote its own limit, one byte over MAX_MESSAGE_SIZE.
        limit = self.server.max_message_size
        self._fail_connection(CloseCode.MESSAGE_TOO_BIG, f"message over {limit} bytes")

    def onPong(self, payload: bytes) -> None:
        payload = payload or b""
        if payload in self.app_pings and hasattr(self, "application_queue"):
            self.app_pings.remove(payload)
            self.application_queue.put_nowait({"type": "wsapp.pong", "bytes": payload})

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        """Tell the application, with the peer's code and reason (the ``reason`` key of ASGI 2.5)."""
        if not hasattr(self, "server"):
            return  # the handshake failed before onConnect: no application, nothing to tell
        self.server.protocol_disconnected(self)
        if code is None:
            code = CloseCode.NO_STATUS_RECEIVED if wasClean else CloseCode.ABNORMAL_CLOSURE
        # An unclean close has no reason from the peer: autobahn's text there is its own.
        reason = (reason or "") if wasClean else ""
        logger.debug("WebSocket %s closed: %s %r", self.client_addr, code, reason)
        if not self.muted and hasattr(self, "application_queue"):
            self.application_queue.put_nowait(
                {"type": "websocket.disconnect", "code": int(code), "reason": reason}
            )
        if hasattr(self, "request"):
            self.server.log_action(
                "websocket",
                "disconnected",
                {"path": self.request.path, "client": self._client_text()},
            )

    # -- messages from the application -----------------------------------------------------

    def handle_reply(self, message: dict[str, Any]) -> None:
        """Carry out one message the application sent.

        Raises:
            ValueError: the message is malformed or not allowed in the current state.
        """
        kind = message.get("type")
        if kind == "websocket.accept":
            self.serverAccept(message.get("subprotocol"), message.get("headers") or ())
        elif kind == "websocket.close":
            if self.state == self.STATE_CONNECTING:
                self.serverReject()
            else:
                self.serverClose(message.get("code"), message.get("reason"))
        elif kind == "websocket.send":
            self.send_data(message)
        elif kind == "wsapp.ping":
            self.send_app_ping(message.get("bytes") or b"")
        else:
            raise ValueError(f"Unknown websocket message type {kind!r} in {message!r}.")

    def serverAccept(self, subprotocol: str | None = None, headers: Iterable[Any] = ()) -> None:
        if not hasattr(self, "handshake_deferred"):
            raise ValueError("websocket.accept after the handshake was already answered.")
        if subprotocol is not None and subprotocol not in self.websocket_protocols:
            raise ValueError(
                f"Subprotocol {subprotocol!r} was not offered by the client "
                f"(it offered {self.websocket_protocols!r})."
            )
        extra = _response_headers(headers)
        deferred = self.handshake_deferred
        del self.handshake_deferred
        deferred.callback((subprotocol, extra) if extra else subprotocol)

    def serverReject(self) -> None:
        if hasattr(self, "handshake_deferred"):  # a second refusal has nothing left to refuse
            super().serverReject()

    def serverClose(self, code: int | None = None, reason: str | None = None) -> None:
        """Send a close frame with ``code`` and ``reason``, which autobahn's ``sendClose`` refuses.

        Raises:
            ValueError: RFC 6455 §7.4 forbids sending ``code``, or ``reason`` is not a str.
        """
        code = CloseCode.NORMAL_CLOSURE if code is None else code
        if not isinstance(code, int) or isinstance(code, bool) or not is_sendable(code):
            raise ValueError(
                f"Close code {code!r} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999."
            )
        if reason is not None and not isinstance(reason, str):
            raise ValueError(f"Close reason must be a str, got {type(reason).__name__}.")
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(code=int(code), reasonUtf8=truncate_reason(reason or "") or None)

    def send_data(self, message: dict[str, Any]) -> None:
        """Send one text or binary message, empty ones included (Daphne drops those).

        Raises:
            ValueError: before accept, or the message has both or neither of text and bytes.
        """
        if self.state == self.STATE_CONNECTING:
            raise ValueError("Socket has not been accepted, so cannot send over it.")
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            raise ValueError(
                "websocket.send needs exactly one of 'text' and 'bytes' not None, "
                f"got text={text!r:.40} and bytes={data!r:.40}."
            )
        if text is not None:
            if not isinstance(text, str):
                raise ValueError(f"websocket.send 'text' must be a str, got {type(text).__name__}.")
            payload, binary = text.encode("utf-8"), False
        else:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise ValueError(
                    f"websocket.send 'bytes' must be bytes, got {type(data).__name__}."
                )
            payload, binary = bytes(data), True
        if self.muted or self.state != self.STATE_OPEN:
            # Closing or closed: the application learns it from websocket.disconnect.
            return
        limit = self.maxMessagePayloadSize
        self.maxMessagePayloadSize = 0  # MAX_MESSAGE_SIZE bounds what we receive, not what we send
        try:
            self.sendMessage(payload, binary)
        finally:
            self.maxMessagePayloadSize = limit
        self.check_send_buffer()

    def send_app_ping(self, payload: Any) -> None:
        """Send a protocol ping for the application (the ``wsapp.ping`` extension).

        Raises:
            ValueError: before accept, or the payload is not bytes of at most 125.
        """
        if self.state == self.STATE_CONNECTING:
            raise ValueError("Socket has not been accepted, so cannot ping over it.")
        if not isinstance(payload, bytes) or len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"wsapp.ping 'bytes' must be at most 125 bytes, got {payload!r:.40}.")
        if self.state == self.STATE_OPEN and not self.muted:
            self.app_pings.append(payload)
            self.sendPing(payload)

    # -- flow control ----------------------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop reading the socket: the application is ``MAX_QUEUE`` messages behind."""
        self.reading_paused = True
        self.transport.pauseProducing()
        # No pong can be read while paused; a slow application must not look like a dead peer.
        if self.autoPingTimeoutCall is not None:
            self.autoPingTimeoutCall.cancel()
            self.autoPingTimeoutCall = None
            self.autoPingPending = None

    def application_received(self, queue_size: int) -> None:
        """Resume reading once the application has drained its queue below half."""
        if self.reading_paused and queue_size < max(1, self.server.max_queue // 2):
            self.reading_paused = False
            if self.state != self.STATE_CLOSED:
                self.transport.resumeProducing()

    def check_send_buffer(self) -> None:
        """Close a client that does not read before its unsent bytes grow without bound."""
        limit = self.server.max_send_buffer
        if buffered_bytes(self.transport) <= limit or self.state != self.STATE_OPEN:
            return
        # Twisted only writes when the reactor gets a turn: an application sending a burst
        # without yielding fills the buffer even for a fast reader. Let the kernel take what
        # it will before calling the client slow.
        buffered = flush(self.transport, limit)
        if buffered <= limit:
            return
        logger.warning(
            "Closing websocket %s (%s) with 1013: %d bytes unsent, over MAX_SEND_BUFFER=%d.",
            self._client_text(),
            self.request.path,
            buffered,
            self.server.max_send_buffer,
        )
        # The close frame queues behind what the client has not read: give it PING_TIMEOUT to
        # read up to it, then abort (autobahn's close handshake timeout drops the TCP).
        self.closeHandshakeTimeout = self.server.ping_timeout
        self.sendCloseFrame(
            code=CloseCode.TRY_AGAIN_LATER, reasonUtf8=SEND_BUFFER_REASON.encode("utf-8")
        )

    def close_for_shutdown(self) -> None:
        """Send 1001 "server shutting down"; the client's reply ends the connection."""
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(
                code=CloseCode.GOING_AWAY, reasonUtf8=SHUTDOWN_REASON.encode("utf-8")
            )

    def check_timeouts(self) -> None:
        if self.reading_paused:
            # Daphne pings after PING_INTERVAL of silence, but no pong can be read until the
            # application catches up: count the pause as traffic.
            self.last_ping = time.time()
        super().check_timeouts()

    def _client_text(self) -> str | None:
        addr = getattr(self, "client_addr", None)
        return "{}:{}".format(*addr) if addr else None
