"""Read back-pressure of ``manage.py serve``'s protocol: stop reading a socket, and start again.

Reading stops while the application is behind (``MAX_QUEUE`` messages or ``MAX_QUEUE_BYTES``
bytes waiting) or the client is over ``MAX_INFLATE_RATE``, and resumes when no reason holds.

An idle socket has nothing queued and no reason to pause, and there are tens of thousands of
them: the state here costs nothing until it is used. The queued sizes are a deque only while a
message waits (an empty ``collections.deque`` is 760 B), and the reasons are a shared empty
``frozenset`` until a pause (pauses are rare; each one builds a new small set).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before Twisted picks one)
from twisted.internet import reactor as _reactor

__all__ = ["PAUSED_FOR_INFLATE", "PAUSED_FOR_QUEUE", "ReadFlow"]

reactor: Any = _reactor  # Twisted's stubs type the module, not the reactor it installs

# Why reading is paused: the application is behind, or the client is over its inflate budget.
PAUSED_FOR_QUEUE = "queue"
PAUSED_FOR_INFLATE = "inflate"


class ReadFlow:
    """The protocol's reading switch and what the application has not taken yet (a mixin)."""

    reading_paused = False
    pause_reasons: frozenset[str] = frozenset()
    # Sizes of the received messages the application has not taken yet, oldest first.
    queued_sizes: collections.deque[int] | None = None
    queued_bytes = 0
    # The protocol's (autobahn's, Daphne's); declared for the type checker.
    server: Any
    transport: Any
    state: int
    data: bytes
    autoPingTimeoutCall: Any
    autoPingPending: Any
    STATE_OPEN: int
    STATE_CLOSING: int
    STATE_CLOSED: int
    consumeData: Callable[[], None]

    def message_queued(self, size: int) -> None:
        """A received message of ``size`` bytes went to the application's queue."""
        if self.queued_sizes is None:
            self.queued_sizes = collections.deque()
        self.queued_sizes.append(size)
        self.queued_bytes += size

    def pause_reading(self, reason: str = PAUSED_FOR_QUEUE) -> None:
        """Stop reading the socket, for ``reason``: the application is behind (``MAX_QUEUE``,
        ``MAX_QUEUE_BYTES``) or the client is over ``MAX_INFLATE_RATE``."""
        self.pause_reasons = self.pause_reasons | {reason}
        if self.reading_paused:
            return
        self.reading_paused = True
        self.transport.pauseProducing()
        # No pong can be read while paused; a slow application must not look like a dead peer.
        if self.autoPingTimeoutCall is not None:
            self.autoPingTimeoutCall.cancel()
            self.autoPingTimeoutCall = None
            self.autoPingPending = None

    def resume_reading(self, reason: str) -> None:
        """``reason`` no longer holds; read again if no other does."""
        self.pause_reasons = self.pause_reasons - {reason}
        if self.reading_paused and not self.pause_reasons:
            self.reading_paused = False
            if self.state != self.STATE_CLOSED:
                self.transport.resumeProducing()
                if self.data:  # frames read before the pause; no new read may come for them
                    reactor.callLater(0, self._consume_buffered)

    def _consume_buffered(self) -> None:
        if not self.reading_paused and self.state in (self.STATE_OPEN, self.STATE_CLOSING):
            self.consumeData()

    def application_received(self, queue_size: int, message: Any) -> None:
        """Resume reading once the application has drained its queue below half."""
        if isinstance(message, dict) and message.get("type") == "websocket.receive":
            if self.queued_sizes:
                self.queued_bytes -= self.queued_sizes.popleft()
                if not self.queued_sizes:
                    self.queued_sizes = None  # idle again: the deque's 760 B go
        if (
            PAUSED_FOR_QUEUE in self.pause_reasons
            and queue_size < max(1, self.server.max_queue // 2)
            and self.queued_bytes < self.server.limits.max_queue_bytes // 2
        ):
            self.resume_reading(PAUSED_FOR_QUEUE)
