"""Client processes that start together, are released together, and never outlive their deadline.

Each job is an async function run with ``asyncio.run`` in its own forked process. Jobs call
``await gate.ready(step)`` at each step; the runner waits until every live job is ready, runs its
hook (sample server CPU, read RSS) and releases the step. Steps make the measured window exact:
connecting happens before step 0 and closing after the last step, outside what is timed.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue as queue_mod
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

JobFn = Callable[..., Awaitable[dict[str, Any]]]
Job = tuple[JobFn, dict[str, Any]]

# fork: the runner has no threads when it forks, and forked workers start in milliseconds.
_CTX = mp.get_context("fork")


def raise_nofile() -> int:
    """Raise this process's descriptor limit to its hard limit (never the machine's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_now() -> float:
    """This process's user + system CPU seconds."""
    times = os.times()
    return times.user + times.system


@dataclass
class Gate:
    """A job's side of the start line: say ready, wait to be released."""

    index: int
    queue: Any  # multiprocessing.Queue; its generic type is not subscriptable at runtime
    events: list[Event]
    deadline: float

    async def ready(self, step: int) -> None:
        """Report ready for ``step`` and wait until the runner releases it."""
        self.queue.put(("ready", self.index, step))
        released = await asyncio.to_thread(
            self.events[step].wait, max(0.0, self.deadline - time.monotonic())
        )
        if not released:
            raise TimeoutError(f"step {step} was never released")


def _entry(fn: JobFn, kwargs: dict[str, Any], gate: Gate) -> None:
    raise_nofile()
    try:
        budget = gate.deadline - time.monotonic()
        result = asyncio.run(asyncio.wait_for(fn(gate, **kwargs), budget))
        gate.queue.put(("result", gate.index, result))
    except BaseException as exc:  # report everything: the runner must not wait for a dead job
        gate.queue.put(("error", gate.index, f"job {gate.index}: {type(exc).__name__}: {exc}"))


@dataclass
class Outcome:
    """What the jobs returned, in job order (``None`` for a job that failed), and the errors."""

    results: list[dict[str, Any] | None]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r is not None]


def run(
    jobs: list[Job],
    *,
    steps: int,
    timeout: float,
    on_step: Callable[[int], None] | None = None,
) -> Outcome:
    """Run ``jobs`` in one process each, through ``steps`` steps, within ``timeout`` seconds."""
    queue = _CTX.Queue()
    events = [_CTX.Event() for _ in range(steps)]
    deadline = time.monotonic() + timeout
    procs = [
        _CTX.Process(target=_entry, args=(fn, kw, Gate(i, queue, events, deadline)), daemon=True)
        for i, (fn, kw) in enumerate(jobs)
    ]
    outcome = Outcome([None] * len(jobs))
    finished: set[int] = set()
    for proc in procs:
        proc.start()
    try:
        for step in range(steps):
            waiting = set(range(len(jobs))) - finished
            while waiting:
                kind, index, value = _get(queue, deadline)
                waiting.discard(index)
                _record(outcome, finished, kind, index, value)
            if on_step is not None:
                on_step(step)
            events[step].set()
        while len(finished) < len(jobs):
            kind, index, value = _get(queue, deadline)
            _record(outcome, finished, kind, index, value)
    except TimeoutError:
        outcome.errors.append(f"timed out after {timeout:.0f}s; {len(finished)} jobs finished")
    finally:
        _reap(procs)
    return outcome


def _get(queue: Any, deadline: float) -> tuple[str, int, Any]:
    try:
        item: tuple[str, int, Any] = queue.get(timeout=max(0.01, deadline - time.monotonic()))
    except queue_mod.Empty:
        raise TimeoutError from None
    return item


def _record(outcome: Outcome, finished: set[int], kind: str, index: int, value: Any) -> None:
    if kind == "result":
        outcome.results[index] = value
        finished.add(index)
    elif kind == "error":
        outcome.errors.append(value)
        finished.add(index)


def _reap(procs: list[Any]) -> None:
    """Join every job; terminate, then kill, any that overstays (each by its own PID)."""
    for proc in procs:
        proc.join(timeout=2)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=2)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=2)
