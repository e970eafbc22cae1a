"""Half-open handshakes under ``manage.py serve``: a deadline for the request headers, and a cap.

Twisted's HTTP channel only has an *idle* timeout (60 s, restarted by every byte), so a client
that sends a few bytes of an upgrade request, or one byte every 50 s, holds a descriptor and a
channel for as long as it likes; a thousand such clients exhaust the process's descriptors.
Here each connection gets ``HANDSHAKE_TIMEOUT`` seconds from its first byte (and again after
each keep-alive response) to finish its request headers, whatever it trickles meanwhile, and at
most ``MAX_PENDING_HANDSHAKES`` connections may be waiting for theirs: a new one past the cap
drops the oldest, so an attacker has to out-pace every honest client's whole handshake to keep
them out. Only a connection that has waited :data:`MIN_PENDING_AGE` can be dropped that way: a
herd of honest clients reconnecting at once (a thousand after a restart) is "pending" only
until the reactor gets round to reading headers that are already in the kernel's buffer, and
must not be cut down for it; the cap is then exceeded for at most that long. Once the headers are in, a websocket upgrade is autobahn's: its opening-handshake
timeout (set to the same ``HANDSHAKE_TIMEOUT``) bounds the wait for the application's accept.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

import daphne.server  # noqa: F401  isort: skip  (first: it installs the asyncio reactor)
from autobahn.twisted.websocket import WebSocketServerProtocol
from twisted.internet import reactor as _reactor
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from wsapp.server.budgets import MIN_PENDING_AGE

reactor: Any = _reactor  # Twisted's stubs type the module, not the reactor it installs

logger = logging.getLogger("wsapp.server")

# A full cap is logged at most this often: an attack must not become a log flood.
WARN_EVERY = 60.0
# RFC 9110 §15.5.9: 408, the server would not wait any longer for the request.
REQUEST_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)


class HandshakeGuard:
    """The connections still sending request headers, each with its deadline, oldest first.

    Args:
        timeout: seconds a connection gets to send its request headers.
        limit: connections that may be waiting for theirs at once.
    """

    def __init__(self, timeout: float, limit: int) -> None:
        self.timeout = timeout
        self.limit = limit
        # channel -> (its deadline call, when it began waiting), oldest first.
        self.pending: collections.OrderedDict[WsappHTTPChannel, tuple[Any, float]] = (
            collections.OrderedDict()
        )
        self.evicted = 0
        self.timed_out = 0
        self._warned_at = float("-inf")

    def started(self, channel: WsappHTTPChannel) -> None:
        """``channel`` waits for request headers from now on (idempotent)."""
        if channel in self.pending:
            return
        now = time.monotonic()
        while len(self.pending) >= self.limit:
            oldest, (call, since) = next(iter(self.pending.items()))
            if now - since < MIN_PENDING_AGE:
                break  # a burst of new connections, not a slow one: admit it over the cap
            self._warn_full()
            del self.pending[oldest]
            call.cancel()
            self.evicted += 1
            oldest.handshake_expired()
        self.pending[channel] = (reactor.callLater(self.timeout, self._expire, channel), now)

    def finished(self, channel: WsappHTTPChannel) -> None:
        """``channel``'s headers are in, or it is gone: it no longer counts."""
        entry = self.pending.pop(channel, None)
        if entry is not None and entry[0].active():
            entry[0].cancel()

    def _warn_full(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "%d connections are still sending request headers (MAX_PENDING_HANDSHAKES): "
                "dropping the oldest; %d dropped so far.",
                self.limit,
                self.evicted + 1,
            )

    def _expire(self, channel: WsappHTTPChannel) -> None:
        self.pending.pop(channel, None)
        self.timed_out += 1
        channel.handshake_expired()


class WsappHTTPChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 channel, timed by a :class:`HandshakeGuard` until its headers are in."""

    guard: HandshakeGuard | None = None
    # Whether any byte of the request being waited for has arrived (the 408 is only for those).
    request_begun = False

    def connectionMade(self) -> None:
        super().connectionMade()
        if self.guard is not None:
            self.guard.started(self)

    def dataReceived(self, data: bytes) -> None:
        self.request_begun = True
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        if self.guard is not None:
            self.guard.finished(self)
        super().allHeadersReceived()

    def allContentReceived(self) -> None:
        super().allContentReceived()  # Daphne's request runs here, and upgrades synchronously
        transport: Any = self.transport
        if transport is None:
            return
        inner = getattr(transport, "wrappedProtocol", None) or getattr(transport, "protocol", None)
        if isinstance(inner, WebSocketServerProtocol):
            self.release_after_upgrade()

    def release_after_upgrade(self) -> None:
        """Let go of the HTTP side once Daphne handed the transport to the websocket protocol.

        The channel stays registered as the transport's streaming producer (``connectionMade``),
        which keeps it, the upgrade request, their headers and buffers alive for the socket's
        whole life (``python -m bench.memory``). As a producer it does nothing for an upgraded
        connection: it is handling a request that never finishes, so it never pauses or resumes
        the transport, and it has no request producer to stop.
        """
        self._networkProducer.unregisterProducer()

    def requestDone(self, request: Any) -> None:
        # Before Twisted's: it may parse a pipelined request at once (allHeadersReceived) or
        # close a non-persistent connection (connectionLost); both end the new wait.
        if self.guard is not None and self.transport is not None:
            self.request_begun = False
            self.guard.started(self)
        super().requestDone(request)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.guard is not None:
            self.guard.finished(self)
        super().connectionLost(reason)

    def handshake_expired(self) -> None:
        """Close: the headers did not arrive in time (or others waited longer).

        A request that had begun gets a 408 first; an idle connection (a keep-alive one between
        requests) is closed silently, as clients expect of an idle connection.
        """
        transport: Any = self.transport
        if transport is None:
            return
        logger.debug("Dropping %s: request headers not received in time.", transport.getPeer())
        if self.request_begun:
            transport.write(REQUEST_TIMEOUT_RESPONSE)
        self.loseConnection()


def channel_factory(guard: HandshakeGuard) -> Any:
    """A protocol factory for ``HTTPFactory.protocol`` building guarded channels.

    Twisted's own factory wraps each channel in ``_GenericHTTPChannelProtocol`` (which swaps in
    HTTP/2 after ALPN); the wrapper is private, so it is reached once, here.
    """

    def build() -> Any:
        channel = WsappHTTPChannel()
        channel.guard = guard
        return http._GenericHTTPChannelProtocol(channel)

    return build
