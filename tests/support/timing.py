"""The one timing knob of the test suite: ``WSAPP_TEST_TIMEOUT_FACTOR``.

Every timeout a test waits on (a frame, a close, a process to start or to recover) is a base
value times :data:`FACTOR`, as websockets' ``tests/utils.py`` scales ``MS``. A quiet laptop runs
with 1; ``make stress`` runs with a CPU burner and a higher factor, so a test that only passes
on an idle machine shows up as a failure there, not as a flake in CI. Timeouts only: what a test
asserts on (a close code, a count, "within one TTL") must not depend on the factor.

:func:`wait_until` is the one way a test waits for something to happen: a condition polled up to
a scaled deadline, never a bare sleep that guesses how long it takes.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable


def _factor() -> float:
    raw = os.environ.get("WSAPP_TEST_TIMEOUT_FACTOR", "1")
    try:
        value = float(raw)
    except ValueError:
        raise RuntimeError(
            f"WSAPP_TEST_TIMEOUT_FACTOR must be a number, e.g. 3; got {raw!r}."
        ) from None
    if value < 1:
        raise RuntimeError(f"WSAPP_TEST_TIMEOUT_FACTOR must be at least 1; got {raw!r}.")
    return value


#: How much slower than an idle machine this run may be.
FACTOR = _factor()


def scaled(seconds: float) -> float:
    """``seconds`` of waiting on an idle machine, stretched for this run's machine."""
    return seconds * FACTOR


#: Seconds between two looks at a condition that does not hold yet.
POLL = 0.05


async def wait_until(
    condition: Callable[[], object | Awaitable[object]],
    timeout: float,
    what: str = "the condition",
    *,
    detail: Callable[[], str] | None = None,
) -> float:
    """Poll ``condition()`` (plain or async) until it is true; return the seconds that took.

    Args:
        timeout: seconds on an idle machine; the deadline is ``scaled(timeout)``.
        what: what the test waits for, for the failure message.
        detail: what to show beside it when the time is up (a server's output, say).

    Raises:
        AssertionError: still false at the deadline.
    """
    started = time.monotonic()
    deadline = started + scaled(timeout)
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"not within {scaled(timeout)} s: {what}{extra}")
        await asyncio.sleep(POLL)
