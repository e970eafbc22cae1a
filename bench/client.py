"""The load client: what runs inside each client process, on the ``websockets`` client library.

Each job connects first, reports ready, is released, does its bounded share of the work, reports
ready again (so the runner can sample the server's CPU at the exact end) and closes. Only
127.0.0.1 is ever dialled. Latencies are returned in seconds; the aggregation is in `scenarios`.

The client offers no compression, so every server is measured on plain frames
(``BENCH_COMPRESSION=deflate`` offers permessage-deflate instead: what compression costs a
server that accepts it), and sends no pings (the servers' own keepalives are answered by the
library in the background).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.pool import Gate, cpu_now

CONNECT_OPTIONS: dict[str, Any] = {
    "compression": os.environ.get("BENCH_COMPRESSION") or None,
    "max_size": None,
    "ping_interval": None,
    "open_timeout": 20,
    "close_timeout": 2,
}
# The publisher's timestamp, found whether the server re-encodes the payload, nests it in an
# envelope, or carries it inside a JSON string (escaped quotes).
_T0 = re.compile(r't0\\?"\s*:\s*([0-9.]+)')


def check_local(url: str) -> str:
    """Refuse any URL that is not on 127.0.0.1: load is never sent anywhere else."""
    if not url.startswith("ws://127.0.0.1:"):
        raise ValueError(f"bench only dials ws://127.0.0.1:<port>/..., not {url!r}")
    return url


async def open_many(urls: Sequence[str], count: int, concurrency: int) -> list[ClientConnection]:
    """Open ``count`` connections round-robin over ``urls``, ``concurrency`` at a time."""
    for url in urls:
        check_local(url)
    sockets: list[ClientConnection] = []
    limit = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with limit:
            sockets.append(await connect(urls[i % len(urls)], **CONNECT_OPTIONS))

    await asyncio.gather(*(one(i) for i in range(count)))
    return sockets


async def close_all(sockets: Sequence[ClientConnection], concurrency: int = 200) -> None:
    """Close with the closing handshake, bounded in concurrency, errors ignored."""
    limit = asyncio.Semaphore(concurrency)

    async def one(ws: ClientConnection) -> None:
        async with limit:
            try:
                await ws.close()
            except Exception:  # a socket the server already dropped needs no closing
                pass

    await asyncio.gather(*(one(ws) for ws in sockets))


async def echo_job(
    gate: Gate, *, url: str, conns: int, msgs: int, payload: str, as_json: bool
) -> dict[str, Any]:
    """``conns`` connections each send ``msgs`` messages, one at a time, awaiting each echo."""
    sockets = await open_many([url], conns, concurrency=50)
    await gate.ready(0)
    cpu0, start = cpu_now(), time.monotonic()
    per_socket = await asyncio.gather(*(_echo_one(ws, msgs, payload, as_json) for ws in sockets))
    end, cpu = time.monotonic(), cpu_now() - cpu0
    await gate.ready(1)
    await close_all(sockets)
    latencies = [x for lat in per_socket for x in lat]
    return {"start": start, "end": end, "cpu": cpu, "ops": len(latencies), "latencies": latencies}


async def _echo_one(ws: ClientConnection, msgs: int, payload: str, as_json: bool) -> list[float]:
    latencies = []
    clock = time.perf_counter
    for i in range(msgs):
        sent = clock()
        await ws.send(payload)
        reply = await ws.recv()
        latencies.append(clock() - sent)
        if i == 0:  # check the endpoint's shape once per connection, off the hot loop
            same = json.loads(reply) == json.loads(payload) if as_json else reply == payload
            if not same:
                raise AssertionError(f"echo mismatch: sent {payload[:60]!r}, got {reply[:60]!r}")
    return latencies


async def connect_job(gate: Gate, *, url: str, total: int, concurrency: int) -> dict[str, Any]:
    """Open and close ``total`` connections, ``concurrency`` in flight; time each handshake."""
    check_local(url)
    await gate.ready(0)
    cpu0, start = cpu_now(), time.monotonic()
    latencies: list[float] = []
    remaining = iter(range(total))

    async def lane() -> None:
        for _ in remaining:
            sent = time.perf_counter()
            ws = await connect(url, **CONNECT_OPTIONS)
            latencies.append(time.perf_counter() - sent)
            await ws.close()

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    end, cpu = time.monotonic(), cpu_now() - cpu0
    await gate.ready(1)
    return {"start": start, "end": end, "cpu": cpu, "ops": len(latencies), "latencies": latencies}


async def idle_job(gate: Gate, *, url: str, counts: Sequence[int]) -> dict[str, Any]:
    """Open ``counts[k]`` more idle connections before each step ``k``, then close them all."""
    sockets: list[ClientConnection] = []
    for step, count in enumerate(counts):
        sockets += await open_many([url], count, concurrency=50)
        await gate.ready(step)
    await close_all(sockets)
    return {"ops": len(sockets)}


async def members_job(
    gate: Gate, *, urls: Sequence[str], count: int, expect: int, grace: float
) -> dict[str, Any]:
    """``count`` room members; each records the latency of every publisher message it receives.

    A member stops after ``expect`` messages; the job stops when all have, or when no member has
    received anything for ``grace`` seconds (a server that drops messages must not hang the run).
    """
    sockets = await open_many(urls, count, concurrency=50)
    await gate.ready(0)
    cpu0, start = cpu_now(), time.monotonic()
    latencies: list[float] = []
    last_rx = [start]
    tasks = [asyncio.create_task(_member(ws, expect, latencies, last_rx)) for ws in sockets]
    pending = set(tasks)
    while pending and (quiet := time.monotonic() - last_rx[0]) < grace:
        _, pending = await asyncio.wait(pending, timeout=grace - quiet)
    for task in tasks:
        task.cancel()
    complete = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception() is None)
    cpu = cpu_now() - cpu0
    await gate.ready(1)
    await close_all(sockets)
    return {
        "start": start,
        "end": last_rx[0],
        "cpu": cpu,
        "ops": len(latencies),
        "latencies": latencies,
        "complete": complete,
        "members": count,
    }


async def _member(
    ws: ClientConnection, expect: int, latencies: list[float], last_rx: list[float]
) -> None:
    got = 0
    while got < expect:
        frame = await ws.recv()
        now = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
        found = _T0.search(frame if isinstance(frame, str) else frame.decode(errors="replace"))
        if found is None:  # presence, welcome, history...: not a publisher message
            continue
        latencies.append(now - float(found.group(1)))
        last_rx[0] = now
        got += 1


async def publisher_job(
    gate: Gate, *, url: str, count: int, rate: float | None, template: str, pad: int
) -> dict[str, Any]:
    """Send ``count`` messages to the room: flooded when ``rate`` is None, else ``rate`` per s.

    ``template`` is the endpoint's message with ``%s`` where the payload object goes. The
    publisher is a member too: what it receives is read and dropped so it never backs up.
    """
    check_local(url)
    ws = await connect(url, **CONNECT_OPTIONS)
    drain = asyncio.create_task(_drain(ws))
    await gate.ready(0)
    start = time.monotonic()
    filler = "x" * pad
    for seq in range(count):
        if rate:
            await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
        payload = f'{{"t0":{time.monotonic():.6f},"seq":{seq},"pad":"{filler}"}}'
        await ws.send(template % payload)
    end = time.monotonic()
    await gate.ready(1)
    drain.cancel()
    await close_all([ws])
    return {"start": start, "end": end, "sent": count}


async def _drain(ws: ClientConnection) -> None:
    async for _ in ws:
        pass
