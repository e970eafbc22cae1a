"""One target at a time: start its server(s), check the endpoint, run its scenarios, stop it.

Whatever happens, every process started here is stopped by its PID in ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from bench import client, procs, scenarios
from bench.profiles import Profile
from bench.targets import Target

ROOT = Path(__file__).resolve().parent.parent


class Unavailable(Exception):
    """The target cannot be measured (not served yet, or not the expected shape)."""


@contextmanager
def started(
    target: Target, cpus: Sequence[int], logs: Path, env: dict[str, str]
) -> Iterator[tuple[list[procs.Server], list[int]]]:
    """``target.procs`` server processes on free ports, listening; stopped on exit."""
    servers: list[procs.Server] = []
    ports = [procs.free_port() for _ in range(target.procs)]
    try:
        for i, port in enumerate(ports):
            argv = [a.format(port=port, python=sys.executable) for a in target.cmd]
            log = logs / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', target.name)}.{i}.log"
            servers.append(procs.start(target.name, argv, cpus=cpus, env=env, cwd=ROOT, log=log))
        for server, port in zip(servers, ports, strict=True):
            procs.wait_listening(server, port)
        yield servers, ports
    finally:
        for server in servers:
            procs.stop(server)


@contextmanager
def redis(cpus: Sequence[int], logs: Path) -> Iterator[str]:
    """A private ``redis-server`` on a free port (never 6379's), without persistence."""
    port = procs.free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no"]
    server = procs.start("redis", argv, cpus=cpus, env={}, cwd=ROOT, log=logs / "redis.log")
    try:
        procs.wait_listening(server, port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        procs.stop(server)


def run_target(
    target: Target,
    profile: Profile,
    *,
    server_cpus: Sequence[int],
    client_cpus: int,
    workers: int,
    logs: Path,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Every scenario of ``target``'s kind, as result rows."""
    env = dict(target.env)
    with _maybe_redis(target, server_cpus, logs) as redis_url:
        if redis_url:
            env["REDIS_URL"] = redis_url
        try:
            with started(target, server_cpus, logs, env) as (servers, ports):
                urls = [f"ws://127.0.0.1:{port}{target.path}" for port in ports]
                asyncio.run(check_endpoint(target, urls))
                probe = scenarios.Probe(
                    pids=lambda: [p for s in servers for p in procs.tree(s.pid)],
                    server_cpus=server_cpus,
                    client_cpus=client_cpus,
                    workers=workers,
                )
                return list(_scenarios(target, profile, probe, urls, say))
        except (procs.ServerFailed, Unavailable) as exc:
            say(f"  {target.name}: unavailable: {exc}")
            return [{"scenario": "unavailable", "errors": [str(exc)]}]


@contextmanager
def _maybe_redis(target: Target, cpus: Sequence[int], logs: Path) -> Iterator[str | None]:
    if target.layer != "redis":
        yield None
        return
    with redis(cpus, logs) as url:
        yield url


def _scenarios(
    target: Target,
    profile: Profile,
    probe: scenarios.Probe,
    urls: list[str],
    say: Callable[[str], None],
) -> Iterator[dict[str, Any]]:
    p, url = profile, urls[0]
    timed: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if target.kind in ("echo", "json"):
        as_json = target.kind == "json"
        timed.append((
            "echo",
            lambda: scenarios.echo(probe, url, conns=p.echo_conns, msgs=p.echo_msgs,
                                   size=p.echo_size, as_json=as_json, timeout=p.timeout),
        ))  # fmt: skip
    if target.kind == "echo":
        timed.append((
            "idle",
            lambda: scenarios.idle_memory(probe, url, counts=p.idle_counts, settle=p.settle,
                                          timeout=p.timeout),
        ))  # fmt: skip
        timed.append((
            "connect",
            lambda: scenarios.connect_rate(probe, url, total=p.connect_total,
                                           concurrency=p.connect_concurrency, timeout=p.timeout),
        ))  # fmt: skip
    if target.kind == "fanout":
        for size in p.room_sizes:
            paced = p.paced_deliveries / size
            for rate, count in ((None, p.flood_msgs), (paced, p.paced_msgs)):
                timed.append((f"fanout {size}", _fanout(target, p, probe, urls, size, rate, count)))
    for label, measure in timed:
        runs = []
        for _ in range(1 if label == "idle" else p.repeat):
            started_at = time.monotonic()
            runs.append(measure())
            took = time.monotonic() - started_at
            say(f"  {target.name}: {label}: {_brief(runs[-1])} ({took:.1f}s)")
            time.sleep(p.settle / 2)  # the server finishes closing before the next measurement
        yield _best(runs)


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best clean run, with every run's rate, cost and p99 kept beside it.

    Interference only ever slows a run or delays a message, so the best run is the fastest one,
    except when the rate is fixed by the load (paced fan-out): then it is the lowest p99.
    """
    clean = [r for r in runs if not r.get("errors") and r.get("rate")] or runs
    if clean[0].get("scenario") == "fanout-paced":
        best = min(clean, key=lambda r: r.get("p99_ms") or float("inf"))
    else:
        best = max(clean, key=lambda r: r.get("rate") or 0)
    if len(runs) > 1:
        best["runs"] = [
            {k: r.get(k) for k in ("rate", "server_us_per_op", "p99_ms", "other_cpu_pct")}
            for r in runs
        ]
    return best


def _fanout(
    target: Target,
    p: Profile,
    probe: scenarios.Probe,
    urls: list[str],
    size: int,
    rate: float | None,
    count: int,
) -> Callable[[], dict[str, Any]]:
    room = f"bench-{size}-{'paced' if rate else 'flood'}"
    room_urls = [u.replace("{room}", room) for u in urls]
    return lambda: scenarios.fanout(
        probe, room_urls, members=size, count=count, rate=rate, template=target.publish,
        pad=p.pad, grace=p.grace, timeout=p.timeout,
    )  # fmt: skip


def _brief(row: dict[str, Any]) -> str:
    if row.get("errors"):
        return "ERROR " + "; ".join(row["errors"])[:200]
    if row["scenario"] == "idle":
        return f"{row.get('bytes_per_conn', float('nan')):,.0f} B/conn"
    return (
        f"{row.get('rate', float('nan')):,.0f}/s p50 {row.get('p50_ms', float('nan')):.2f} ms"
        f" p99 {row.get('p99_ms', float('nan')):.2f} ms"
        f" srv {row.get('server_us_per_op', float('nan')):.0f} µs/op"
        f" client CPU {row.get('client_cpu_pct', float('nan')):.0f}%"
    )


async def check_endpoint(target: Target, urls: list[str]) -> None:
    """Fail with `Unavailable` unless the endpoint answers in the expected shape; warm it up."""
    try:
        await asyncio.wait_for(_check(target, urls), 10)
    except InvalidStatus as exc:
        raise Unavailable(f"handshake refused: HTTP {exc.response.status_code}") from exc
    except (WebSocketException, OSError, TimeoutError, AssertionError) as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


async def _check(target: Target, urls: list[str]) -> None:
    if target.kind == "fanout":
        room = [u.replace("{room}", "bench-check") for u in urls]
        async with connect(room[-1], **client.CONNECT_OPTIONS) as member:
            async with connect(room[0], **client.CONNECT_OPTIONS) as publisher:
                await publisher.send(target.publish % '{"t0":0.0,"seq":0,"pad":""}')
                while True:
                    frame = await member.recv()
                    if isinstance(frame, str) and "t0" in frame:
                        return
    async with connect(urls[0], **client.CONNECT_OPTIONS) as ws:
        if target.kind == "json":
            sent = {"type": "echo", "data": "check"}
            await ws.send(json.dumps(sent))
            got = json.loads(await ws.recv())
            assert got == sent, f"expected {sent}, got {got}"
            return
        for frame in ("check", b"check"):  # empty frames: the conformance run
            await ws.send(frame)
            got = await ws.recv()
            assert got == frame, f"expected {frame!r} back, got {got!r}"
        for _ in range(50):  # warm-up: imports, caches, the first allocations
            await ws.send("x" * 100)
            await ws.recv()
