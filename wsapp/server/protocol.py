"""The websocket protocol of ``manage.py serve``: Daphne's, with its gaps closed.

Daphne's ``WebSocketProtocol`` drops close reasons, empty messages and handshake headers, raises
on close codes autobahn's ``sendClose()`` refuses (1001, 1009, 1011, 1013), queues incoming
messages without bound and writes to a client that does not read without bound. This subclass
keeps Daphne's handshake and scope, and changes only what the application's messages do:

- ``websocket.close`` sends its ``code`` and ``reason`` (cut to 123 UTF-8 bytes, as
  :func:`wsapp.codes.close_reason_bytes` cuts it);
- ``websocket.send`` sends empty text and bytes, and refuses a message with both or neither;
- ``wsapp.ping`` sends a protocol ping; its pong comes back as ``wsapp.pong`` (the
  :data:`~wsapp.types.PING_EXTENSION` that ``serve`` declares in the scope), and the
  :data:`~wsapp.types.DISCONNECT_EXTENSION`'s probe answers whether the client has gone;
- reading stops while the application has ``MAX_QUEUE`` messages or ``MAX_QUEUE_BYTES`` bytes
  waiting, and resumes when it has drained half of them; it also stops while the client's
  compressed messages are over ``MAX_INFLATE_RATE``, until the budget refills;
- a client that has not read ``MAX_SEND_BUFFER`` bytes of what was sent before is closed with
  1013 (one message bigger than the buffer still goes to a client that reads it), pongs included;
- a message in more than ``MAX_FRAGMENTS`` frames, or pings and pongs over
  ``CONTROL_FRAME_RATE``, close the socket with 1008;
- frames go to the kernel without a reactor turn, those of one loop tick in one write
  (:class:`~wsapp.server.writing.FrameWriting`);
- the handshake's answers (accept headers with one ``Server``, HTTP denials, ``CONNECT_TIMEOUT``)
  are :class:`~wsapp.server.responses.AnsweringProtocol`'s.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before Twisted picks one)
from twisted.internet import reactor as _reactor

from wsapp.codes import CloseCode, close_reason_bytes, is_sendable
from wsapp.server.budgets import Budgets
from wsapp.server.buffers import buffered_bytes, flush
from wsapp.server.leftovers import HandshakeLeftovers
from wsapp.server.readflow import PAUSED_FOR_INFLATE, PAUSED_FOR_QUEUE, ReadFlow
from wsapp.server.responses import AnsweringProtocol
from wsapp.server.writing import FrameWriting
from wsapp.types import DENIAL_BODY, DENIAL_START, PING_EVENT, PONG_EVENT

logger = logging.getLogger("wsapp.server")
reactor: Any = _reactor  # Twisted's stubs type the module, not the reactor it installs

__all__ = ["WsappWebSocketProtocol"]

# RFC 6455 §5.5: control frames carry at most 125 bytes (a ping's payload, a close's code+reason).
MAX_CONTROL_PAYLOAD = 125
# Unanswered application pings remembered per connection; older ones are forgotten.
MAX_PENDING_PINGS = 32

SHUTDOWN_REASON = "server shutting down"
SEND_BUFFER_REASON = "send buffer full"
CONTROL_FRAME_REASON = "too many control frames"


class WsappWebSocketProtocol(FrameWriting, ReadFlow, HandshakeLeftovers, AnsweringProtocol):
    """Daphne's websocket protocol with reasons, empty frames, pings, and flow control."""

    # The websocket.disconnect event once closed: DISCONNECT_EXTENSION's answer.
    closed_event: dict[str, Any] | None = None
    # Unanswered application pings, oldest first; a deque (760 B) only once the application pings.
    app_pings: collections.deque[bytes] | None = None
    # Set by autobahn at connection time; declared for the type checker.
    maxMessagePayloadSize: int
    autoPingTimeoutCall: Any

    def onConnect(self, request: Any) -> Any:
        server = self.factory.server_class  # Daphne sets self.server from it in onConnect
        self.budgets = Budgets(server.limits, server.max_message_size)
        return super().onConnect(request)

    def onOpen(self) -> None:
        super().onOpen()
        self.shed_handshake()
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
        compressed = getattr(self, "_isMessageCompressed", False)
        super().onMessage(payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if queue is None or self.muted:
            return  # Daphne queued nothing
        self.message_queued(len(payload))
        if compressed:
            # What the client sent cost it a fraction of what inflating it cost us.
            wait = self.budgets.inflated(len(payload), time.monotonic())
            if wait > 0 and PAUSED_FOR_INFLATE not in self.pause_reasons:
                self.pause_reading(PAUSED_FOR_INFLATE)
                reactor.callLater(wait, self.resume_reading, PAUSED_FOR_INFLATE)
        if PAUSED_FOR_QUEUE not in self.pause_reasons and (
            queue.qsize() >= self.server.max_queue
            or self.queued_bytes >= self.server.limits.max_queue_bytes
        ):
            self.pause_reading(PAUSED_FOR_QUEUE)

    def processData(self) -> bool:
        # Pausing the transport stops the socket, not the frames already read from it: one read
        # of 1 KB bombs is a hundred MiB of messages. Leave them in autobahn's buffer.
        if self.reading_paused and self.state == self.STATE_OPEN:
            return False
        return bool(super().processData())

    def onMessageBegin(self, isBinary: bool) -> None:
        self.budgets.fragments = 0
        super().onMessageBegin(isBinary)

    def onMessageFrameBegin(self, length: int) -> None:
        if not self.budgets.fragment() and not self.failedByMe:
            # Payload-only accounting would let 1-byte fragments pin ~120× their bytes.
            # RFC 6455 §7.4.1: 1008 = policy violation.
            limit = self.server.limits.max_fragments
            self._fail_connection(CloseCode.POLICY_VIOLATION, f"message in over {limit} frames")
        super().onMessageFrameBegin(length)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        # autobahn's hook; its reason would quote its own limit, one byte over MAX_MESSAGE_SIZE.
        limit = self.server.max_message_size
        self._fail_connection(CloseCode.MESSAGE_TOO_BIG, f"message over {limit} bytes")

    def onPing(self, payload: bytes) -> None:
        """Answer, unless pings come too fast or the client has not read the earlier pongs."""
        if not self.control_frame_allowed() or self.state != self.STATE_OPEN:
            return
        if not self.check_send_buffer():
            self.sendPong(payload)

    def onPong(self, payload: bytes) -> None:
        payload = payload or b""
        if self.app_pings and payload in self.app_pings:
            # Asked for by the application (however often it pings): not the client's flood.
            self.app_pings.remove(payload)
            if hasattr(self, "application_queue"):
                self.application_queue.put_nowait({"type": PONG_EVENT, "bytes": payload})
        else:
            self.control_frame_allowed()  # unsolicited (or the keepalive's, once a PING_INTERVAL)

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
        self.closed_event = {"type": "websocket.disconnect", "code": int(code), "reason": reason}
        if not self.muted and hasattr(self, "application_queue"):
            self.application_queue.put_nowait(dict(self.closed_event))
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
        elif kind == PING_EVENT:
            self.send_app_ping(message.get("bytes") or b"")
        elif kind == DENIAL_START:
            self.start_denial(message)
        elif kind == DENIAL_BODY:
            self.continue_denial(message)
        else:
            raise ValueError(f"Unknown websocket message type {kind!r} in {message!r}.")

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
            self.sendCloseFrame(code=int(code), reasonUtf8=close_reason_bytes(reason or "") or None)

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
            if self.app_pings is None:
                self.app_pings = collections.deque(maxlen=MAX_PENDING_PINGS)
            self.app_pings.append(payload)
            self.sendPing(payload)

    # -- flow control ----------------------------------------------------------------------

    def control_frame_allowed(self) -> bool:
        """Count a ping or pong against ``CONTROL_FRAME_RATE``; over it, close with 1008."""
        if self.budgets.control_frame(time.monotonic()):
            return True
        if not self.failedByMe:
            # RFC 6455 §7.4.1: 1008 = policy violation.
            self._fail_connection(CloseCode.POLICY_VIOLATION, CONTROL_FRAME_REASON)
        return False

    def check_send_buffer(self, added: int = 0) -> bool:
        """Close a client that does not read before its unsent bytes grow without bound.

        Args:
            added: bytes just written, which the client cannot have read yet. Only what was
                waiting before them counts: one message bigger than ``MAX_SEND_BUFFER`` still
                goes to a client that reads, but a second one behind it does not.

        Returns:
            Whether the client was closed (1013).
        """
        limit = self.server.max_send_buffer
        if self.state != self.STATE_OPEN or buffered_bytes(self.transport) - added <= limit:
            return False
        # Twisted only writes when the reactor gets a turn: an application sending a burst
        # without yielding fills the buffer even for a fast reader. Let the kernel take what
        # it will before calling the client slow. It writes oldest first.
        buffered = flush(self.transport, limit + added)
        if buffered - added <= limit:
            return False
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
        return True

    def close_for_shutdown(self) -> None:
        """Send 1001 "server shutting down"; the client's reply ends the connection."""
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(
                code=CloseCode.GOING_AWAY, reasonUtf8=SHUTDOWN_REASON.encode("utf-8")
            )

    def check_timeouts(self) -> None:
        if (
            self.state == self.STATE_CONNECTING
            and self.duration() > self.server.websocket_connect_timeout
        ):
            self.refuse_slow_accept()  # before Daphne's own check would answer 403
        if self.reading_paused:
            # Daphne pings after PING_INTERVAL of silence, but no pong can be read until the
            # application catches up: count the pause as traffic.
            self.last_ping = time.time()
        super().check_timeouts()

    def _client_text(self) -> str | None:
        addr = getattr(self, "client_addr", None)
        return "{}:{}".format(*addr) if addr else None
