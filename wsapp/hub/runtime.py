"""One running instance per event loop, started on first use: how the process holds its hub.

A process serving websockets runs one event loop and so one hub; a test runs a loop each. The
registry owns that state (no module-global dicts), and the services to run beside each instance.
It knows nothing of what it starts: :mod:`wsapp.hub.hub` gives it the start function.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar


class Stoppable(Protocol):
    async def stop(self) -> None: ...


T = TypeVar("T", bound=Stoppable)
S = TypeVar("S")


class PerLoop(Generic[T, S]):
    """The instance of each event loop, started by ``start(services)`` on first use.

    Args:
        start: builds and starts an instance, given the services registered so far.
    """

    def __init__(self, start: Callable[[tuple[S, ...]], Awaitable[T]]) -> None:
        self._start = start
        self._running: dict[asyncio.AbstractEventLoop, T] = {}
        self._starting: dict[asyncio.AbstractEventLoop, asyncio.Future[T]] = {}
        self._services: list[S] = []

    def add_service(self, service: S) -> None:
        """Run ``service`` beside every instance started from now on (idempotent)."""
        if service not in self._services:
            self._services.append(service)

    async def get(self) -> T:
        """This event loop's instance, started on first use (concurrent callers share one start)."""
        loop = asyncio.get_running_loop()
        running = self._running.get(loop)
        if running is not None:
            return running
        pending = self._starting.get(loop)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = loop.create_future()
        self._starting[loop] = future
        try:
            started = await self._start(tuple(self._services))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the caller below re-raises it
            raise
        finally:
            self._starting.pop(loop, None)
        self._running[loop] = started
        future.set_result(started)
        return started

    def current(self) -> T | None:
        """The running loop's instance if it has started (for sync callers that must not start one)."""
        try:
            return self._running.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    async def stop(self) -> None:
        """Stop this loop's instance (tests, and server shutdown)."""
        running = self._running.pop(asyncio.get_running_loop(), None)
        if running is not None:
            await running.stop()


#: How long a stopping task gets after each cancel before it is cancelled again.
CANCEL_RECHECK = 0.5


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again any that outlives
    :data:`CANCEL_RECHECK`; a task that ended with an error raises it here, as awaiting it would.

    Once is not always enough: redis-py can lose a cancellation that lands as its read timeout
    fires (it reports the timeout, and channels_redis's receive loop starts the next blocking
    pop), so the hub's reader would block a shutdown for ever on one cancel.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=CANCEL_RECHECK)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]  # as awaiting it would have
