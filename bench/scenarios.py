"""The scenarios: split the load over client processes, sample the server, aggregate.

Every scenario samples the server's CPU time exactly at the start and the end of the measured
window (the pool's steps), so "server µs per op" is the server's own cost, whatever the client's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import client, pool, procs, stats


@dataclass
class Probe:
    """The server under measurement, as the scenarios see it."""

    pids: Callable[[], list[int]]
    server_cpus: Sequence[int]
    client_cpus: int
    workers: int

    def cpu(self) -> float:
        return procs.cpu_seconds(self.pids())

    def rss(self) -> int:
        return procs.rss_bytes(self.pids())


def split(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal positive shares."""
    base, extra = divmod(total, parts)
    return [n for n in (base + (i < extra) for i in range(parts)) if n]


def _measure(probe: Probe, jobs: list[pool.Job], timeout: float) -> tuple[pool.Outcome, dict]:
    marks: dict[int, tuple[float, float, float]] = {}

    def on_step(step: int) -> None:
        marks[step] = (time.monotonic(), probe.cpu(), procs.busy_seconds(probe.server_cpus))

    outcome = pool.run(jobs, steps=2, timeout=timeout, on_step=on_step)
    if len(marks) != 2:
        return outcome, {}
    wall, cpu, busy = (end - start for start, end in zip(marks[0], marks[1], strict=True))
    if wall <= 0:
        return outcome, {}
    # Other engineers share this machine: CPU used on the server's cores by anything but the
    # server says how disturbed the measurement was (a private redis-server counts here too).
    other = max(0.0, busy - cpu) / wall / len(probe.server_cpus)
    return outcome, {
        "server_cpu_s": cpu,
        "server_cpu_pct": 100 * cpu / wall,
        "other_cpu_pct": 100 * other,
    }


def _summary(
    scenario: str, params: dict[str, Any], outcome: pool.Outcome, server: dict, probe: Probe
) -> dict[str, Any]:
    results = [r for r in outcome.ok if "latencies" in r]
    row: dict[str, Any] = {"scenario": scenario, "params": params, "errors": outcome.errors}
    if not results:
        return row
    row |= stats.throughput(results, probe.client_cpus)
    row |= stats.latency_ms([x for r in results for x in r["latencies"]])
    row |= server
    if server and row["ops"]:
        row["server_us_per_op"] = 1e6 * server["server_cpu_s"] / row["ops"]
    return row


def echo(
    probe: Probe, url: str, *, conns: int, msgs: int, size: int, as_json: bool, timeout: float
) -> dict[str, Any]:
    """N connections × M messages × S bytes, each message awaiting its echo."""
    data = "x" * size
    payload = json.dumps({"type": "echo", "data": data}) if as_json else data
    jobs: list[pool.Job] = [
        (client.echo_job, {"url": url, "conns": n, "msgs": msgs, "payload": payload,
                           "as_json": as_json})
        for n in split(conns, probe.workers)
    ]  # fmt: skip
    outcome, server = _measure(probe, jobs, timeout)
    params = {"conns": conns, "msgs": msgs, "size": size}
    return _summary("json-echo" if as_json else "echo", params, outcome, server, probe)


def connect_rate(
    probe: Probe, url: str, *, total: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    """Open-and-close ``total`` connections, ``concurrency`` in flight per client process."""
    jobs: list[pool.Job] = [
        (client.connect_job, {"url": url, "total": n, "concurrency": concurrency})
        for n in split(total, probe.workers)
    ]
    outcome, server = _measure(probe, jobs, timeout)
    params = {"total": total, "concurrency": concurrency * probe.workers}
    return _summary("connect", params, outcome, server, probe)


def idle_memory(
    probe: Probe, url: str, *, counts: Sequence[int], settle: float, timeout: float
) -> dict[str, Any]:
    """Server RSS before and after each batch of idle connections: bytes per connection."""
    time.sleep(settle)
    before = probe.rss()
    readings: list[int] = []

    def on_step(step: int) -> None:
        time.sleep(settle)  # let the server finish its handshakes' allocations
        readings.append(probe.rss())

    jobs: list[pool.Job] = [
        (client.idle_job, {"url": url, "counts": shares})
        for shares in zip(*(split(c, probe.workers) for c in counts), strict=True)
    ]
    outcome = pool.run(jobs, steps=len(counts), timeout=timeout, on_step=on_step)
    totals = [sum(counts[: i + 1]) for i in range(len(counts))]
    row: dict[str, Any] = {
        "scenario": "idle",
        "params": {"conns": totals},
        "errors": outcome.errors,
        "rss_before": before,
        "rss": readings,
    }
    if len(readings) == len(counts):
        row["bytes_per_conn"] = (readings[0] - before) / totals[0]
        row["rss_at_max_mib"] = readings[-1] / 2**20
        row["conns_held"] = totals[-1]
    return row


def fanout(
    probe: Probe,
    urls: Sequence[str],
    *,
    members: int,
    count: int,
    rate: float | None,
    template: str,
    pad: int,
    grace: float,
    timeout: float,
) -> dict[str, Any]:
    """One publisher, ``members`` receivers over ``urls``: deliveries per second and latency."""
    jobs: list[pool.Job] = [
        (client.publisher_job, {"url": urls[0], "count": count, "rate": rate,
                                "template": template, "pad": pad})
    ] + [
        (client.members_job, {"urls": urls, "count": n, "expect": count, "grace": grace})
        for n in split(members, probe.workers)
    ]  # fmt: skip
    outcome, server = _measure(probe, jobs, timeout)
    mode = "paced" if rate else "flood"
    params = {"members": members, "messages": count, "rate": rate, "procs": len(urls)}
    row = _summary(f"fanout-{mode}", params, outcome, server, probe)
    publisher = outcome.results[0]
    if publisher is not None and "ops" in row:
        # Deliveries are counted from the first publish to the last delivery.
        receivers = [r for r in outcome.ok if "members" in r]
        wall = max(r["end"] for r in receivers) - publisher["start"]
        row["wall_s"] = wall
        row["rate"] = row["ops"] / wall if wall > 0 else None
        row["expected"] = members * count
        row["lost"] = members * count - row["ops"]
    return row
