"""What one connection may make a ``manage.py serve`` process do, beyond its payload bytes.

A message's payload size (``MAX_MESSAGE_SIZE``) and count (``MAX_QUEUE``) are not what it costs
the server: 1-byte fragments cost ~120 bytes each, a ping costs a pong that a client need not
read, and a 1 KB compressed frame can cost a MiB of inflating and holding. The protocol keeps one
:class:`Budgets` per connection and asks it before each of those costs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from wsapp.conf import DEFAULTS, parse_rate
from wsapp.limits import TokenBucket

#: Seconds a connection must have been waiting for its request headers before a full
#: ``MAX_PENDING_HANDSHAKES`` may drop it (see :mod:`wsapp.server.handshake`).
MIN_PENDING_AGE = 1.0


@dataclass(frozen=True)
class Limits:
    """The server-wide budgets, from ``WSAPP``; each default is its setting's in ``DEFAULTS``."""

    max_fragments: int = DEFAULTS["MAX_FRAGMENTS"]
    control_frame_rate: str | None = DEFAULTS["CONTROL_FRAME_RATE"]
    max_inflate_rate: int | None = DEFAULTS["MAX_INFLATE_RATE"]
    max_queue_bytes: int = DEFAULTS["MAX_QUEUE_BYTES"]

    @classmethod
    def from_settings(cls, conf: dict[str, Any]) -> Limits:
        return cls(
            max_fragments=conf["MAX_FRAGMENTS"],
            control_frame_rate=conf["CONTROL_FRAME_RATE"],
            max_inflate_rate=conf["MAX_INFLATE_RATE"],
            max_queue_bytes=conf["MAX_QUEUE_BYTES"],
        )

    @functools.cached_property
    def control_rate(self) -> tuple[float, float] | None:
        """``CONTROL_FRAME_RATE`` parsed, once per server rather than once per connection."""
        rate = self.control_frame_rate
        return None if rate is None else parse_rate(rate)


class ByteBudget:
    """``rate`` bytes a second, ``burst`` saved up; spending may go into debt.

    Unlike a :class:`~wsapp.limits.TokenBucket` the cost is known only after the work is done
    (a message has been inflated), so the bucket goes negative and the caller waits the debt off.
    Time is passed in, as for the token bucket.
    """

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated: float | None = None

    def spend(self, amount: float, now: float) -> float:
        """Spend ``amount``; return the seconds until the budget is out of debt (0: it is not)."""
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class Budgets:
    """One connection's budgets: fragments of the current message, control frames, inflating.

    Args:
        limits: the server's :class:`Limits`.
        max_message_size: the largest message, so one always fits in the inflate burst.
    """

    __slots__ = ("control", "fragments", "inflate", "limits")

    def __init__(self, limits: Limits, max_message_size: int | None) -> None:
        self.limits = limits
        self.fragments = 0
        self.control: TokenBucket | None = None
        if limits.control_rate is not None:
            self.control = TokenBucket(*limits.control_rate)
        self.inflate: ByteBudget | None = None
        if limits.max_inflate_rate is not None:
            rate = limits.max_inflate_rate
            self.inflate = ByteBudget(rate, max(rate, max_message_size or 0))

    def fragment(self) -> bool:
        """Count one more frame of the current message; ``False``: it is one too many."""
        self.fragments += 1
        return self.fragments <= self.limits.max_fragments

    def control_frame(self, now: float) -> bool:
        """Count a ping or pong; ``False``: over ``CONTROL_FRAME_RATE``."""
        return self.control is None or self.control.allow(now)

    def inflated(self, size: int, now: float) -> float:
        """Charge ``size`` inflated bytes; return how long to stop reading (0: not at all)."""
        return 0.0 if self.inflate is None else self.inflate.spend(size, now)
