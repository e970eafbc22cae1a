"""The client side of ``python -m bench.hosts``: members on every process, and what they must see.

Steps, each timed from the members' own arrival times (:mod:`bench.chatmember`):

1. ``join``: every member joins the room on its process; presence must agree everywhere.
2. ``broadcast``: one message sent on host 0 reaches every other member exactly once, same id.
3. ``kill``: both processes of the last host get SIGKILL; messages are sent meanwhile (acked);
   its users must leave presence on the surviving hosts within the TTL (plus a refresh, slack).
4. ``resume``: the killed host's members reconnect to the surviving processes with
   ``?since=<their last id>`` and get every message they missed, once; a last message then
   reaches everyone. At the end every member has every acknowledged id exactly once, in order.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import WebSocketException

from bench import netns, procs
from bench.chatmember import Member, wait_for

JOIN_CONCURRENCY = 20


@dataclass
class Run:
    """The scenario's inputs, and what it found."""

    members: list[Member]
    urls: list[str]  # one per serve process, host-major: process p is on host p // per_host
    per_host: int
    killed: Sequence[procs.Server]  # the last host's processes
    ttl: float
    step_timeout: float
    run_id: str
    gap_messages: int
    acked: list[int] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail})
        return ok

    def host_of(self, member: Member) -> int:
        return member.process // self.per_host

    @property
    def last_host(self) -> int:
        return (len(self.urls) - 1) // self.per_host


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and maximum, in milliseconds."""
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def join_all(
    run: Run, members: Sequence[Member], query: str | Callable[[Member], str] = ""
) -> None:
    """Join ``members`` to their processes, ``JOIN_CONCURRENCY`` handshakes at a time."""
    if any(not url.startswith(f"ws://{netns.SUBNET}.") for url in run.urls):
        raise ValueError(f"bench.hosts only dials its own namespaces, not {run.urls}")
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one(member: Member) -> None:
        suffix = query(member) if callable(query) else query
        async with gate:
            await member.join(run.urls[member.process] + suffix, run.step_timeout)

    await asyncio.gather(*(one(m) for m in members))


async def step_join(run: Run) -> None:
    started = time.monotonic()
    await join_all(run, run.members)
    last_join = max(m.joined_at for m in run.members)
    everyone = {m.user for m in run.members}
    try:
        await wait_for(
            lambda: all(m.online == everyone for m in run.members), run.step_timeout, "presence"
        )
    finally:
        views = {
            p: {frozenset(m.online) for m in run.members if m.process == p}
            for p in range(len(run.urls))
        }
        agreed = all(v == {frozenset(everyone)} for v in views.values())
        run.check("presence agrees on every process", agreed, f"{len(everyone)} users")
    run.timings["join"] = {
        "members": len(run.members),
        "all_joined_s": round(last_join - started, 3),
        "presence_converged_ms": round(
            (max(m.presence_at for m in run.members) - last_join) * 1000, 1
        ),
    }


async def send_acked(run: Run, sender: Member, label: str) -> tuple[int, float]:
    """Send one message from ``sender``; return its id and when it was sent, once acked."""
    client_id = f"{run.run_id}-{label}"
    sent_at = time.monotonic()
    await sender.send(f"{label} from host 0", client_id)
    await wait_for(lambda: client_id in sender.acks, run.step_timeout, f"ack of {label}")
    run.acked.append(sender.acks[client_id])
    return sender.acks[client_id], sent_at


async def broadcast(run: Run, label: str, receivers: Sequence[Member]) -> dict[str, Any]:
    """One message from the first member; the delivery times to every other of ``receivers``."""
    sender = run.members[0]
    message_id, sent_at = await send_acked(run, sender, label)
    others = [m for m in receivers if m is not sender]
    await wait_for(
        lambda: all(message_id in m.seen_at for m in others), run.step_timeout, f"{label} delivery"
    )
    return {
        "id": message_id,
        "receivers": len(others),
        **spread([m.seen_at[message_id] - sent_at for m in others]),
    }


async def step_kill(run: Run) -> list[Member]:
    """SIGKILL the last host's processes; return its members, disconnected, left in presence."""
    doomed = [m for m in run.members if run.host_of(m) == run.last_host]
    survivors = [m for m in run.members if run.host_of(m) != run.last_host]
    killed_at = time.monotonic()
    for server in run.killed:
        server.popen.send_signal(signal.SIGKILL)  # by PID: the Popen we started
    for server in run.killed:
        server.popen.wait(run.step_timeout)
    for i in range(run.gap_messages):
        await send_acked(run, run.members[0], f"gap-{i}")
    await wait_for(lambda: not any(m.connected for m in doomed), run.step_timeout, "disconnect")
    remaining = {m.user for m in survivors}
    await wait_for(
        lambda: all(m.online == remaining for m in survivors),
        run.ttl * 2 + run.step_timeout,
        "drop-out from presence",
    )
    dropout = max(m.presence_at for m in survivors) - killed_at
    bound = run.ttl * 2 + 2.0  # one TTL plus one refresh (TTL/3), with slack
    run.check(
        "killed host's users leave presence in time",
        dropout < bound,
        f"{dropout:.2f} s (bound {bound:.1f} s)",
    )
    await send_acked(run, run.members[0], "after-dropout")
    run.timings["kill"] = {
        "dropout_s": round(dropout, 3),
        "bound_s": bound,
        "acked_meanwhile": len(run.acked) - 1,
    }
    return doomed


async def step_resume(run: Run, doomed: Sequence[Member]) -> None:
    """The killed host's members rejoin the survivors with ``since``; they miss nothing."""
    alive = run.last_host * run.per_host  # processes 0 .. alive-1 are on surviving hosts
    since = {m.user: m.last_id for m in doomed}
    for i, member in enumerate(doomed):
        member.process = i % alive
    started = time.monotonic()
    await join_all(run, doomed, lambda m: f"?since={since[m.user]}")
    resumed = max(m.joined_at for m in doomed) - started
    wrong = [m.user for m in doomed if m.history != [i for i in run.acked if i > since[m.user]]]
    run.check("resume with since gets every missed message", not wrong, _some(wrong))
    everyone = {m.user for m in run.members}
    await wait_for(
        lambda: all(m.online == everyone for m in run.members), run.step_timeout, "rejoin"
    )
    rejoin = max(m.presence_at for m in run.members) - started
    final = await broadcast(run, "final", run.members)
    run.timings["resume"] = {
        "members": len(doomed),
        "all_resumed_s": round(resumed, 3),
        "presence_back_s": round(rejoin, 3),
        "final_delivery": final,
    }


def check_exactly_once(run: Run) -> None:
    """Every member has every acknowledged id once (live, or a resume's history), live ones in
    order; the sender has them as acks."""
    sender, *others = run.members
    bad = [m.user for m in others if sorted(m.live + m.history) != run.acked]
    run.check("every acked message reached every member exactly once", not bad, _some(bad))
    unordered = [m.user for m in others if m.live != sorted(m.live)]
    run.check("live messages arrive in id order", not unordered, _some(unordered))
    run.check("the sender's acks are the acked ids", sorted(sender.acks.values()) == run.acked)
    errors = [m.errors[0] for m in run.members if m.errors]
    run.check("no error frames", not errors, _some(errors))


def _some(wrong: Sequence[object]) -> str:
    """The first few of what went wrong, for a failed check's detail ("" when nothing did)."""
    return f"{len(wrong)} wrong, e.g. {list(wrong[:3])}" if wrong else ""


async def scenario(run: Run) -> None:
    """All the steps, each one's failure recorded as a failed check (the rest then skipped)."""
    try:
        await step_join(run)
        run.timings["broadcast"] = await broadcast(run, "broadcast", run.members)
        doomed = await step_kill(run)
        await step_resume(run, doomed)
        check_exactly_once(run)
    except (TimeoutError, OSError, WebSocketException) as exc:
        run.check("scenario finished", False, f"{type(exc).__name__}: {exc}")
    finally:
        await asyncio.gather(*(m.close() for m in run.members))
