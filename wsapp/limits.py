"""Per-frame policy: message size, rate limits (per connection and per user), the idle deadline,
and how many refused frames in a row a connection may send.

Each connection holds one :class:`ConnectionLimits`, built from the settings when it is created;
``WebSocket.receive()`` asks it about every incoming data frame. A message over
``MAX_MESSAGE_SIZE`` closes the socket with 1009.

The rate limits are token buckets with a grace before a flooder is cut off.
Within the rate (plus the burst) a frame passes. Over it, the frame is dropped and the client is
told so with the endpoint's ``drop_notice``: a ``wsapp.Consumer`` speaks the JSON wire protocol,
so it sets the ``error`` frame (``rate_limited``); a plain ``async def`` handler's protocol is
its own, so it sends nothing unless it sets a notice. A client that bursts now and then loses a
few messages, not its connection. A client still over the limit ``RATE_LIMIT_GRACE`` seconds after it
first went over is closed with 4429. With a limit unset a connection has no limiter for it, and
the hot path pays one ``is None`` test per limit that is off.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from wsapp.conf import parse_rate
from wsapp.exceptions import BadRequest, MessageTooBig, RateLimited
from wsapp.types import Message

__all__ = [
    "RATE_LIMITED_FRAME",
    "ConnectionLimits",
    "IdleDeadline",
    "RateLimiter",
    "TokenBucket",
    "UserRateLimit",
    "connection_limiter",
    "measure",
    "payload_size",
]

#: The ``error`` frame a Consumer's dropped message is answered with (the client wire
#: protocol's), encoded once: a flood must not cost a JSON encode per dropped frame.
RATE_LIMITED_FRAME = json.dumps(
    {"type": "error", "code": "rate_limited", "message": "Rate limit exceeded; message dropped."}
)


def payload_size(message: Message) -> int:
    """A frame's payload in bytes; text is encoded only when it is not ASCII (an O(1) test).

    Raises:
        UnicodeEncodeError: the text holds a lone surrogate (it is not UTF-8).
    """
    text = message.get("text")
    if text is None:
        return len(message.get("bytes") or b"")
    return len(text) if text.isascii() else len(text.encode())


def measure(message: Message) -> tuple[int, UnicodeEncodeError | None]:
    """A received frame's payload size and, for text that is not UTF-8 (a lone surrogate), why:
    such a frame is sized (its surrogates as three bytes each) and limited like any other before
    it is refused, because a handler may catch the refusal and read on."""
    try:
        return payload_size(message), None
    except UnicodeEncodeError as exc:
        return len(message["text"].encode("utf-8", "surrogatepass")), exc


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; each allowed event spends one.

    Time is passed in (any monotonic clock, in seconds), which keeps the bucket a pure function
    of its inputs: no clock reads of its own, trivially testable.

    Raises:
        ValueError: ``rate`` is not positive or ``burst`` is below one token.
    """

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"A token bucket needs rate > 0 and burst >= 1, not {rate}, {burst}.")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        # -inf: the first allow() sees an infinite elapsed time and starts from a full bucket,
        # whatever clock the caller uses.
        self.updated = float("-inf")

    def allow(self, now: float) -> bool:
        """Spend a token if there is one; ``False`` means the event is over the limit."""
        elapsed = now - self.updated
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    """A :class:`TokenBucket` plus the grace policy that turns lasting excess into a close.

    The client is *in excess* from its first dropped frame until it goes ``grace`` seconds
    without another drop. A drop that comes more than ``grace`` seconds into the excess raises.
    A client that slows down after a burst is forgiven; one that keeps sending faster than the
    rate is closed, however the bucket's refills spread its drops out.
    """

    __slots__ = ("bucket", "excess")

    def __init__(self, rate: float, burst: float, grace: float) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.excess = Excess(grace)

    def allow(self, now: float) -> bool:
        """Whether a frame that arrived at ``now`` may pass; ``False``: drop it.

        Raises:
            RateLimited: still over the limit ``grace`` seconds after going over it (4429).
        """
        if self.bucket.allow(now):
            return True
        self.excess.drop(now)
        return False


class Excess:
    """The grace policy: drops are forgiven until they have gone on for ``grace`` seconds."""

    __slots__ = ("grace", "last_drop", "since")

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.since: float | None = None
        self.last_drop = float("-inf")

    def drop(self, now: float) -> None:
        """Record a dropped frame.

        Raises:
            RateLimited: drops have continued, with no pause of ``grace``, for ``grace`` seconds.
        """
        if self.since is None or now - self.last_drop > self.grace:
            self.since = now
        self.last_drop = now
        if now - self.since >= self.grace:
            raise RateLimited(f"Rate limit exceeded for over {self.grace:g} s.")


@functools.lru_cache(maxsize=16)
def _parsed(spec: str) -> tuple[float, float]:
    return parse_rate(spec)


def connection_limiter(conf: Mapping[str, Any]) -> RateLimiter | None:
    """A new connection's limiter from ``RATE_LIMIT`` and ``RATE_LIMIT_GRACE``; ``None`` if off.

    Raises:
        ValueError: ``RATE_LIMIT`` is not a rate (the system check ``wsapp.E004`` says so first).
    """
    spec = conf["RATE_LIMIT"]
    if spec is None:
        return None
    rate, burst = _parsed(spec)
    return RateLimiter(rate, burst, float(conf["RATE_LIMIT_GRACE"]))


class UserRateLimit:
    """``RATE_LIMIT_PER_USER``: one token bucket shared by all of a user's connections, on every
    process, kept in the hub's store (Redis with channels_redis) as one GCRA number.

    The bucket has the per-connection limiter's semantics exactly: ``"60/m burst 60"`` allows 60
    at once, then one a second, so never more than 119 in any minute and 60 a minute on
    average. Time is the wall clock (``time.time()``), because the processes sharing the bucket
    have no common monotonic clock. Opt-in because it costs a store round trip per
    message; the grace policy is the same as the per-connection limiter's, per connection.
    """

    __slots__ = ("burst", "excess", "interval_us", "key", "store")

    def __init__(self, store: Any, user_key: str, spec: str, grace: float) -> None:
        rate, burst = _parsed(spec)
        self.store = store
        self.key = f"rate.{user_key}"
        self.interval_us = max(1, round(1_000_000 / rate))
        self.burst = max(1, int(burst))
        self.excess = Excess(grace)

    async def allow(self, now: float) -> bool:
        """Whether this message fits the user's allowance; ``False``: drop it.

        Raises:
            RateLimited: this connection has been over the shared limit for ``grace`` seconds.
        """
        now_us = int(time.time() * 1_000_000)
        if await self.store.spend(self.key, self.interval_us, self.burst, now_us):
            return True
        self.excess.drop(now)
        return False


class ConnectionLimits:
    """What one connection allows of its peer: every limit is ``None`` when it is off.

    Args:
        max_size: the largest incoming message in bytes (1009 above it).
        idle_timeout: seconds without an incoming frame before the socket is closed with 1001.
        rate: this connection's own :class:`RateLimiter`.
        user_rate: the bucket all of the user's connections share, attached at accept by
            whoever knows the user (:meth:`share_user_rate`).
        max_refused: frames refused in a row (``MAX_INVALID_FRAMES``) before 4400.

    Attributes:
        drop_notice: the frame (``str``: text, ``bytes``: binary) that answers a message dropped
            over a rate limit, or ``None`` to answer nothing. A ``wsapp.Consumer`` sets the JSON
            ``error`` frame (:data:`RATE_LIMITED_FRAME`); a plain handler may set its own.
        refused_in_a_row: data frames that ``receive_text/bytes/json`` refused in a row
            (``UnsupportedData``, ``InvalidPayload``), which a handler may catch and read on.
    """

    __slots__ = (
        "drop_notice",
        "idle",
        "idle_timeout",
        "max_refused",
        "max_size",
        "rate",
        "refused_in_a_row",
        "user_rate",
    )

    def __init__(
        self,
        max_size: int | None = None,
        idle_timeout: float | None = None,
        rate: RateLimiter | None = None,
        user_rate: UserRateLimit | None = None,
        max_refused: int | None = None,
    ) -> None:
        self.max_size = max_size
        self.idle_timeout = idle_timeout
        self.rate = rate
        self.user_rate = user_rate
        self.max_refused = max_refused
        self.refused_in_a_row = 0
        self.drop_notice: str | bytes | None = None
        self.idle: IdleDeadline | None = None

    @classmethod
    def from_settings(cls, conf: Mapping[str, Any]) -> ConnectionLimits:
        """A new connection's limits from ``MAX_MESSAGE_SIZE``, ``IDLE_TIMEOUT``,
        ``RATE_LIMIT``/``RATE_LIMIT_GRACE`` and ``MAX_INVALID_FRAMES``; the per-user rate is
        attached later, at accept."""
        return cls(
            conf["MAX_MESSAGE_SIZE"],
            conf["IDLE_TIMEOUT"],
            connection_limiter(conf),
            max_refused=conf["MAX_INVALID_FRAMES"],
        )

    def watch_idle(
        self, idle_for: Callable[[], float], expire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Start the idle deadline (if ``idle_timeout`` is set): see :class:`IdleDeadline`."""
        if self.idle_timeout:
            self.idle = IdleDeadline(self.idle_timeout, idle_for, expire)

    def stop(self) -> None:
        """The connection is over: no deadline fires for it any more."""
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None

    def share_user_rate(self, limit: UserRateLimit) -> None:
        """Count this connection's messages against its user's shared bucket from now on."""
        self.user_rate = limit

    def admit(self, size: int, now: float) -> bool:
        """Whether a data frame of ``size`` bytes that arrived at ``now`` passes this
        connection's own limits; ``False``: drop it (the user's shared rate is asked apart,
        because it costs a store round trip: see :class:`UserRateLimit`).

        Raises:
            MessageTooBig: the message is over ``max_size`` (1009).
            RateLimited: over the rate for longer than its grace (4429).
        """
        if self.max_size is not None and size > self.max_size:
            raise MessageTooBig(f"Message of {size} bytes is over the limit of {self.max_size}.")
        return self.rate is None or self.rate.allow(now)

    def check_refused(self) -> None:
        """Before the next data frame is read: a handler that caught every refusal (``except
        ValueError`` around ``receive_json()``) still meets the Consumer's limit.

        Raises:
            BadRequest: ``max_refused`` frames in a row were refused (4400).
        """
        if self.max_refused is not None and self.refused_in_a_row >= self.max_refused:
            raise BadRequest(f"{self.refused_in_a_row} malformed messages in a row.")


class IdleDeadline:
    """Runs ``expire()`` (the connection's close with 1001) once ``idle_for()``, the seconds
    since the last incoming frame, reaches ``timeout``.

    A frame costs nothing here: it only stamps its arrival on the connection. The one timer
    fires at the earliest possible deadline and, when a frame came meanwhile, sleeps the rest.
    """

    __slots__ = ("_expire", "_idle_for", "_task", "_timer", "timeout")

    def __init__(
        self,
        timeout: float,
        idle_for: Callable[[], float],
        expire: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        self.timeout = timeout
        self._idle_for = idle_for
        self._expire = expire
        self._task: asyncio.Task[None] | None = None  # referenced, so it is not collected
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            timeout, self._check
        )

    def _check(self) -> None:
        remaining = self.timeout - self._idle_for()
        loop = asyncio.get_running_loop()
        if remaining > 0:
            self._timer = loop.call_later(remaining, self._check)
            return
        self._timer = None
        self._task = loop.create_task(self._expire())

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
