"""Knowing that a backing service went away, once, and when it came back.

A Redis outage makes every layer call of a process fail: the hub's read, its refresh, its stats,
each broadcast and each join. Logging each of those is a traceback per message (69 per process
for a 10 s outage, measured) that hides the one fact that matters. An :class:`Outage` turns the
failures into one warning when the first one happens and one when the service answers again,
with how long it was away. The hub keeps one for the channel layer, :mod:`wsapp.dbhealth` one
for the database.
"""

from __future__ import annotations

import asyncio
import logging
import time

logger = logging.getLogger("wsapp")

#: The warning that starts an outage, once per process per outage (tests count it).
DOWN_MESSAGE = "%s unavailable (%s: %s); %s until it answers again."
#: The warning that ends it.
BACK_MESSAGE = "%s back after %.1f s (%d failed calls)%s"


class Outage:
    """Whether a service is away now, since when, and an event set while it is up."""

    def __init__(self, service: str, meanwhile: str) -> None:
        self.service = service
        self.meanwhile = meanwhile
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
        """Count a failed call; return whether it began an outage (then it is logged)."""
        self.failed_calls += 1
        if self.since is not None:
            logger.debug("%s still unavailable (%s: %s)", self.service, action, exc)
            return False
        self.since = time.monotonic()
        self.outages += 1
        self.up.clear()
        detail = getattr(exc, "detail", "") or exc
        logger.warning(DOWN_MESSAGE, self.service, action, detail, self.meanwhile)
        return True

    def recovered(self, then: str = ".") -> float:
        """End the outage; return how long it lasted, in seconds. ``then`` ends the log line."""
        started = self.since if self.since is not None else time.monotonic()
        seconds = time.monotonic() - started
        logger.warning(BACK_MESSAGE, self.service, seconds, self.failed_calls, then)
        self.since = None
        self.failed_calls = 0
        self.last_seconds = seconds
        self.up.set()
        return seconds
