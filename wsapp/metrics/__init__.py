"""What this process has done: connections, closes by code, refusals, messages and bytes.

The hot path pays one attribute increment per message on the connection itself; process totals
are folded in when a connection closes and summed with the open ones when someone asks
(``snapshot()``), so nothing is counted twice and nothing locks. :data:`totals` learns of each
accept and close as a connection observer (``wsapp.lifecycle``), registered first in
``WsappConfig.ready()``; it keeps its own view of the open connections, so this package imports
nothing of wsapp's but the close codes, and anything may import it. The Prometheus collector
(:mod:`wsapp.metrics.prometheus`) and the dashboard's stats (:mod:`wsapp.metrics.cluster`) read
:func:`snapshot`.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from wsapp.codes import CloseCode

if TYPE_CHECKING:
    from wsapp.connection import WebSocket


class Totals:
    """Counters of the connections that have closed, plus process-wide events, and the open
    connections whose counters are not folded in yet."""

    def __init__(self) -> None:
        self.open: set[WebSocket] = set()
        self.reset()

    def reset(self) -> None:
        """Start the counters over; the open connections stay, and fold in when they close."""
        self.started = time.time()
        self.accepted = 0
        self.closed: Counter[int] = Counter()
        self.refused: Counter[str] = Counter()
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0

    def refuse(self, why: str) -> None:
        self.refused[why] += 1

    async def on_accept(self, ws: WebSocket) -> None:
        self.accepted += 1
        self.open.add(ws)

    def on_close(self, ws: WebSocket) -> None:
        self.open.discard(ws)
        self.fold(ws)

    def on_refuse(self, ws: WebSocket) -> None:
        self.refuse("handshake")

    def fold(self, ws: WebSocket) -> None:
        """Add a closing connection's counters to the totals (called once, from its close)."""
        code = ws.close_code
        # A connection that closed without any code dropped (RFC 6455 §7.1.5).
        self.closed[code if code is not None else CloseCode.ABNORMAL_CLOSURE] += 1
        self.messages_in += ws.messages_received
        self.messages_out += ws.messages_sent
        self.bytes_in += ws.bytes_received
        self.bytes_out += ws.bytes_sent


totals = Totals()
PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def snapshot() -> dict[str, Any]:
    """This process's counters now: totals plus what the open connections have done so far."""
    open_now = list(totals.open)
    return {
        "process": PROCESS,
        "time": time.time(),
        "uptime": time.time() - totals.started,
        "connections": len(open_now),
        "accepted": totals.accepted,
        "closed": {str(code): n for code, n in totals.closed.items()},
        "refused": dict(totals.refused),
        "messages_in": totals.messages_in + sum(ws.messages_received for ws in open_now),
        "messages_out": totals.messages_out + sum(ws.messages_sent for ws in open_now),
        "bytes_in": totals.bytes_in + sum(ws.bytes_received for ws in open_now),
        "bytes_out": totals.bytes_out + sum(ws.bytes_sent for ws in open_now),
    }


def reset() -> None:
    """Start the counters over (tests)."""
    totals.reset()
