"""``WebSocket``: one connection, over the ASGI ``scope``/``receive``/``send`` it was given.

It talks to ASGI directly — no per-message task, queue or dispatch of its own — so a plain
``async def`` handler costs almost nothing on top of the server. The API is the union of what
Starlette, Quart, Sanic and ``websockets`` offer; states and errors follow Starlette's.
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import cached_property
from typing import Any, Protocol

from wsapp import jsoncodec
from wsapp.codes import CloseCode, check_sendable, truncate_reason
from wsapp.conf import get_settings
from wsapp.denial import DenialMethods
from wsapp.exceptions import InvalidPayload, InvalidStateError, WebSocketDisconnect
from wsapp.handshake import Address, HandshakeData, encode_headers
from wsapp.limits import ConnectionLimits, measure, payload_size
from wsapp.payloads import PayloadMethods
from wsapp.pings import PingMethods
from wsapp.readahead import ReadAhead
from wsapp.sendqueue import SendQueue, SoonMethods
from wsapp.types import (
    DISCONNECT_EXTENSION,
    PONG_EVENT,
    SEND_EXTENSION,
    Message,
    Receive,
    Scope,
    Send,
    State,
)

__all__ = ["Address", "ConnectionTracker", "WebSocket", "WebSocketState"]

_now = time.monotonic  # the clock asyncio's loop.time() uses, so timers and stamps agree


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


CONNECTING = WebSocketState.CONNECTING
CONNECTED = WebSocketState.CONNECTED
DISCONNECTED = WebSocketState.DISCONNECTED


class ConnectionTracker(Protocol):
    """Whoever keeps count of a process's connections, told of each one's fate by the socket
    itself (``wsapp.lifecycle.Registry`` is the process's; a route hands it to every socket)."""

    async def accepted(self, ws: WebSocket) -> None:
        """The handshake completed. May raise a ``Reject`` to close the new connection."""

    def closed(self, ws: WebSocket) -> None:
        """Either side closed; called on every close, it must act once per accepted socket."""

    def refused(self, ws: WebSocket) -> None:
        """The application closed the socket before accepting it: the handshake is refused."""


class WebSocket(HandshakeData, PayloadMethods, PingMethods, DenialMethods, SoonMethods):
    """One WebSocket connection, from handshake to close.

    Args:
        scope, receive, send: the ASGI triple the server gave the application.
        path_params: the route's converted parameters (``<int:n>`` arrives as an ``int``).
        subprotocols: what the route supports, in order of preference, for negotiation.
        route_name: the route's ``name=``, for logs and metrics.
        tracker: told of the accept and the close (``wsapp.lifecycle.registry`` for a route's
            sockets); a socket built without one is known to no one but its builder.
    """

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        path_params: Mapping[str, Any] | None = None,
        subprotocols: Iterable[str] = (),
        route_name: str | None = None,
        tracker: ConnectionTracker | None = None,
    ) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError(f'Expected scope type "websocket", but got {scope["type"]!r}')
        self.scope = scope
        self._receive = receive
        self._send = send
        self.path_params: dict[str, Any] = dict(path_params or {})
        self.supported_subprotocols: tuple[str, ...] = tuple(subprotocols)
        self.route_name = route_name
        self.client_state = CONNECTING
        self.application_state = CONNECTING
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.state = State()
        self.tracker = tracker
        #: What this connection allows of its peer (size, rates, idle deadline).
        self.limits = ConnectionLimits.from_settings(get_settings())
        self.dumps, self.loads = jsoncodec.default_codec()
        self.last_activity = _now()
        self.messages_received = 0
        self.messages_sent = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self._closed: asyncio.Event | None = None
        self._pings: dict[bytes, tuple[float, asyncio.Future[float]]] = {}
        # A handler that only sends still learns the peer left (see wsapp.readahead).
        extensions = scope.get("extensions") or {}
        probe = (extensions.get(DISCONNECT_EXTENSION) or {}).get("event")
        self._ahead = ReadAhead(receive, self._disconnected, self._resolve_ping, probe)
        # The server's direct frame write, if it offers one (SEND_EXTENSION).
        self._write_now = (extensions.get(SEND_EXTENSION) or {}).get("frame")
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self._soon: SendQueue | None = None  # frames wsapp.broadcast handed over, unawaited

    @cached_property
    def id(self) -> str:
        """A random id, unique across processes (to exclude a sender from a broadcast)."""
        return os.urandom(8).hex()

    # -- states -----------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.application_state is CONNECTED and self.client_state is CONNECTED

    @property
    def closed(self) -> bool:
        return self.application_state is DISCONNECTED or self.client_state is DISCONNECTED

    async def wait_closed(self) -> None:
        """Wait until either side has closed (reading ahead if nothing else is receiving)."""
        if self.closed:
            return
        if self._closed is None:
            self._closed = asyncio.Event()
        self._ahead.start()
        await self._closed.wait()

    def on_shutdown(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``await callback()`` on ``manage.py serve``'s drain (SIGTERM), before this
        socket's 1001: the place for a last message. Bounded by half ``SHUTDOWN_GRACE``; an error is
        logged, the close comes all the same (:meth:`wsapp.lifecycle.Registry.shutdown`)."""
        self.shutdown_hooks.append(callback)

    # -- handshake --------------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Complete the handshake.

        Args:
            subprotocol: the protocol to select; ``None`` negotiates from the route's list.
            headers: extra response headers, as a mapping of str or pairs of bytes.

        Raises:
            InvalidStateError: the connection was already accepted or closed.
            WebSocketDisconnect: the client left before the handshake completed.
        """
        await self._before_answer("accept")
        if subprotocol is None:
            subprotocol = self.negotiate_subprotocol()
        await self._send(
            {
                "type": "websocket.accept",
                "subprotocol": subprotocol,
                "headers": encode_headers(headers),
            }
        )
        self.application_state = CONNECTED
        self.subprotocol = subprotocol
        if self.tracker is not None:
            await self.tracker.accepted(self)
        self.limits.watch_idle(lambda: _now() - self.last_activity, self._close_idle)

    async def _before_answer(self, operation: str) -> None:
        """Wait for the ``websocket.connect`` event; the handshake must still be unanswered."""
        if self.client_state is CONNECTING:
            await self.receive()  # the "websocket.connect" event
        if self.client_state is DISCONNECTED and self.application_state is not CONNECTED:
            # The client gave up during the handshake: its going is not the handler's bug.
            raise self.disconnect_error()
        if self.application_state is not CONNECTING:
            raise InvalidStateError(operation, self.application_state, CONNECTING)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the connection; before accept this rejects the handshake. Idempotent.

        A reason longer than RFC 6455 allows (123 UTF-8 bytes) is cut at a character boundary
        (:func:`wsapp.codes.truncate_reason`).

        Raises:
            ValueError: ``code`` may not be sent in a close frame (RFC 6455 §7.4).
        """
        check_sendable(code)
        if self.application_state is DISCONNECTED:
            return
        reason = truncate_reason(reason or "")
        if self.application_state is CONNECTING and self.tracker is not None:
            self.tracker.refused(self)
        if self._soon is not None and not self._soon.overflowed:
            await self._soon.drain()  # what was broadcast before the close goes first
        if self.client_state is not DISCONNECTED:
            await self._send({"type": "websocket.close", "code": int(code), "reason": reason})
            self.close_code, self.close_reason = int(code), reason
        self._mark_closed(application=True)

    # -- receiving --------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> Message:
        """The next raw ASGI event (``websocket.connect``, ``.receive`` or ``.disconnect``).

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            MessageTooBig: the message is over ``WSAPP["MAX_MESSAGE_SIZE"]``.
            RateLimited: over ``RATE_LIMIT`` or ``RATE_LIMIT_PER_USER`` past the grace (4429); within
                the grace, frames over the limit are dropped and answered with the endpoint's
                ``ws.limits.drop_notice`` (a Consumer's ``error`` frame; by default nothing).
            WebSocketDisconnect: the peer had already gone before this call.
        """
        if self.client_state is DISCONNECTED:
            raise self.disconnect_error()
        while True:
            if timeout is None:
                message = await self._ahead.pull()
            else:
                async with asyncio.timeout(timeout):
                    message = await self._ahead.pull()
            kind = message["type"]
            if kind == "websocket.receive":
                user_rate = self.limits.user_rate
                if self._admit(message) and (
                    user_rate is None or await user_rate.allow(self.last_activity)
                ):
                    return message
                if self.limits.drop_notice is not None and self.application_state is CONNECTED:
                    await self.send(self.limits.drop_notice)
            elif kind == "websocket.disconnect":
                self._disconnected(message)
                return message
            elif kind == "websocket.connect" and self.client_state is CONNECTING:
                self.client_state = CONNECTED
                return message
            elif kind == PONG_EVENT:
                self._resolve_ping(message.get("bytes") or b"")
            else:
                raise RuntimeError(
                    f'Expected "websocket.receive" or "websocket.disconnect", but got {kind!r}'
                )

    def _admit(self, message: Message) -> bool:
        """Count a data frame and ask this connection's own limits about it; ``False``: drop
        it. Synchronous, so a frame pays no extra await; the user's shared rate is asked apart.

        Raises:
            InvalidPayload: text that is not UTF-8 (1007), once counted and within this
                connection's limits (a handler may catch it and read on: a flood is limited).
            MessageTooBig, RateLimited: from :meth:`ConnectionLimits.admit`.
        """
        self.last_activity = now = _now()
        size, not_utf8 = measure(message)
        self.messages_received += 1
        self.bytes_received += size
        if not self.limits.admit(size, now):
            return False
        if not_utf8 is not None:
            # RFC 6455 §8.1: a text frame must be UTF-8; a server that let a lone
            # surrogate through handed us text nothing downstream can write.
            raise InvalidPayload("A text frame that is not valid UTF-8.") from not_utf8
        return True

    async def _receive_data(self, timeout: float | None) -> Message:
        if self.application_state is CONNECTING:
            raise InvalidStateError("receive data", CONNECTING, CONNECTED)
        if self.closed:
            raise self.disconnect_error()
        message = await self.receive(timeout)
        if message["type"] == "websocket.disconnect":
            raise self.disconnect_error()
        return message

    # -- sending ----------------------------------------------------------------------------

    async def send(self, message: Message | str | bytes) -> None:
        """Send a raw ASGI event, or a ``str`` as a text frame and ``bytes`` as a binary one.

        Raises:
            WebSocketDisconnect: the peer is gone.
            InvalidStateError: not accepted yet (only accept/close may be sent), or closed.
        """
        if isinstance(message, str):
            message = {"type": "websocket.send", "text": message}
        elif isinstance(message, bytes | bytearray | memoryview):
            message = {"type": "websocket.send", "bytes": bytes(message)}
        kind = message["type"]
        if kind == "websocket.accept":
            await self.accept(message.get("subprotocol"), message.get("headers"))
            return
        if kind == "websocket.close":
            await self.close(
                message.get("code", CloseCode.NORMAL_CLOSURE), message.get("reason") or ""
            )
            return
        if kind != "websocket.send":
            raise RuntimeError(
                f'Expected "websocket.send", "websocket.accept" or "websocket.close", but got {kind!r}'
            )
        await self.send_frame(message)

    async def send_frame(self, message: Message) -> None:
        """Send an ASGI event as it is: the delivery path of pre-encoded frames (the hub's).

        Raises:
            WebSocketDisconnect: the peer is gone.
            InvalidStateError: not accepted yet, or closed.
        """
        if self._soon is not None and self._soon.busy:
            await self._soon.drain()
        await self._write_frame(message)

    async def _write_frame(self, message: Message) -> None:
        self._check_sendable()
        # Sized before it is sent: text that is not UTF-8 (a lone surrogate) raises its
        # UnicodeEncodeError, a ValueError, here rather than reaching the wire.
        size = payload_size(message)
        if self._write_now is not None and message["type"] == "websocket.send":
            self._write_now(message)  # serve's: a lost peer is a websocket.disconnect, no OSError
        else:
            try:
                await self._send(message)
            except OSError as exc:  # uvicorn's ClientDisconnected: the peer went away mid-send
                self.close_code = CloseCode.ABNORMAL_CLOSURE
                self._mark_closed(application=False)
                raise WebSocketDisconnect(CloseCode.ABNORMAL_CLOSURE, str(exc)) from exc
        self._sent(size)

    def _check_sendable(self) -> None:
        if self.application_state is not CONNECTED:
            if self.client_state is DISCONNECTED:
                raise self.disconnect_error()
            raise InvalidStateError("send", self.application_state, CONNECTED)

    def _sent(self, size: int) -> None:
        self.messages_sent += 1
        self.bytes_sent += size
        self._ahead.sent()

    # -- internals --------------------------------------------------------------------------

    def _disconnected(self, message: Message) -> None:
        # RFC 6455 §7.1.5: a close without a status code reads as 1005.
        self.close_code = message.get("code") or CloseCode.NO_STATUS_RECEIVED
        self.close_reason = message.get("reason") or ""
        self._mark_closed(application=False)

    def disconnect_error(self) -> WebSocketDisconnect:
        """The exception every receive, send and ping of a closed connection raises: the code
        it closed with, 1006 if it has none (it dropped before any close was seen)."""
        return WebSocketDisconnect(
            self.close_code or CloseCode.ABNORMAL_CLOSURE, self.close_reason or ""
        )

    async def _close_idle(self) -> None:
        if not self.closed:
            await self.close(CloseCode.GOING_AWAY, "idle timeout")

    def _mark_closed(self, *, application: bool) -> None:
        self.application_state = DISCONNECTED
        if not application:
            self.client_state = DISCONNECTED
        if self.tracker is not None:
            self.tracker.closed(self)
        self.limits.stop()
        self._ahead.cancel()
        if self._closed is not None:
            self._closed.set()
        for _, waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(self.disconnect_error())

    def __repr__(self) -> str:
        return (
            f"<WebSocket {self.path} client={self.client_state.name} "
            f"application={self.application_state.name}>"
        )
