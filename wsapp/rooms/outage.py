"""Knowing that the channel layer went away, once, and when it came back.

A Redis outage makes every layer call of a process fail: the hub's read, its refresh, its stats,
each broadcast and each join. Logging each of those is a traceback per message (69 per process
for a 10 s outage, measured) that hides the one fact that matters. An :class:`Outage` turns the
failures into one warning when the first one happens and one when the layer answers again, with
how long it was away.
"""

from __future__ import annotations

import asyncio
import logging
import time

logger = logging.getLogger("wsapp.hub")

#: The warning that starts an outage, once per process per outage (tests count it).
DOWN_MESSAGE = "Channel layer unavailable (%s: %s); live delivery paused until it answers again."
#: The warning that ends it.
BACK_MESSAGE = "Channel layer back after %.1f s (%d failed calls); resyncing %d local sockets."


class Outage:
    """Whether the layer is away now, since when, and an event set while it is up."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.failed_calls = 0
        self.outages = 0
        self.last_seconds: float | None = None
        self.up = asyncio.Event()
        self.up.set()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, action: str, exc: BaseException) -> bool:
        """Count a failed layer call; return whether it began an outage (then it is logged)."""
        self.failed_calls += 1
        if self.since is not None:
            logger.debug("Channel layer still unavailable (%s: %s)", action, exc)
            return False
        self.since = time.monotonic()
        self.outages += 1
        self.up.clear()
        logger.warning(DOWN_MESSAGE, action, getattr(exc, "detail", "") or exc)
        return True

    def recovered(self, resynced: int) -> float:
        """End the outage; return how long it lasted, in seconds."""
        started = self.since if self.since is not None else time.monotonic()
        seconds = time.monotonic() - started
        logger.warning(BACK_MESSAGE, seconds, self.failed_calls, resynced)
        self.since = None
        self.failed_calls = 0
        self.last_seconds = seconds
        self.up.set()
        return seconds
