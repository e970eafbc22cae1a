"""The one timing knob of the test suite: ``WSAPP_TEST_TIMEOUT_FACTOR``.

Every timeout a test waits on (a frame, a close, a process to start or to recover) is a base
value times :data:`FACTOR`, as websockets' ``tests/utils.py`` scales ``MS``. A quiet laptop runs
with 1; ``make stress`` runs with a CPU burner and a higher factor, so a test that only passes
on an idle machine shows up as a failure there, not as a flake in CI. Timeouts only: what a test
asserts on (a close code, a count, "within one TTL") must not depend on the factor.
"""

from __future__ import annotations

import os


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
