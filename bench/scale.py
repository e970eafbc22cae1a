"""``python -m bench.scale [--sockets 100000]``: one ``serve`` process holding a crowd, and one
broadcast to all of it, timed.

One ``serve`` process (the demo in production mode, in-memory layer) is started pinned to the
server CPUs; ``--workers`` client processes open ``--sockets`` connections to one room
(``/ws/broadcast/<room>/``) between them, each worker from its own 127.0.0.x source address, so
the crowd is not capped by one address's ~28,000 ephemeral ports. Then one member broadcasts
once, and every worker reports when its last member had the frame: the delivery time is the
latest of those minus the send. The server's RSS is read before and with the crowd held.

The descriptor limit is raised for this process and its children only (``RLIMIT_NOFILE``, up to
``fs.nr_open``), never for the machine; where the hard limit cannot be raised (no
``CAP_SYS_RESOURCE``) the run says so and stops. Traffic goes to 127.0.0.1 only; everything started here
is stopped by its PID; the run is bounded by ``--timeout``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench import pool, procs, runner
from bench.__main__ import RESULTS, parse_cpus
from bench.client import CONNECT_OPTIONS, check_local, close_all
from bench.scenarios import split
from bench.targets import TARGETS

TARGET = next(t for t in TARGETS if t.name == "wsapp-rooms@serve")
ROOM = "crowd"
# Handshakes in flight per worker: the server takes them ~1 ms each.
CONCURRENCY = 64


def raise_nofile(wanted: int) -> int:
    """This process's descriptor limit raised to ``wanted`` (children inherit it)."""
    ceiling = int(Path("/proc/sys/fs/nr_open").read_text())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(wanted, soft), ceiling)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(target, hard)))
    except (ValueError, PermissionError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def crowd_job(
    gate: pool.Gate, *, url: str, count: int, source: str, publisher: bool
) -> dict[str, Any]:
    """``count`` members from ``source``; the publisher job also sends the one broadcast."""
    check_local(url)
    limit = asyncio.Semaphore(CONCURRENCY)
    sockets: list[ClientConnection] = []
    opened = time.monotonic()

    async def one() -> None:
        async with limit:
            sockets.append(await connect(url, local_addr=(source, 0), **CONNECT_OPTIONS))

    await asyncio.gather(*(one() for _ in range(count)))
    open_s = time.monotonic() - opened
    # The publisher is not one of the crowd (whether a sender gets its own broadcast is the
    # endpoint's business): its own socket, whatever it receives dropped.
    sender = await connect(url, local_addr=(source, 0), **CONNECT_OPTIONS) if publisher else None
    await gate.ready(0)  # the runner reads RSS with every worker's crowd held
    received = asyncio.gather(*(ws.recv() for ws in sockets))
    await gate.ready(1)  # every worker is listening
    sent = None
    if sender is not None:
        sent = time.monotonic()
        await sender.send(json.dumps({"t0": sent}))
    frames = await asyncio.wait_for(received, 120)
    last = time.monotonic()
    delivered = sum(1 for frame in frames if "t0" in str(frame))
    await gate.ready(2)
    await close_all(sockets + ([sender] if sender else []), concurrency=500)
    return {"count": count, "delivered": delivered, "last": last, "sent": sent, "open_s": open_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--sockets", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument("--server-cpus", type=parse_cpus, default=[0], metavar="LIST")
    parser.add_argument("--client-cpus", type=parse_cpus, default=None, metavar="LIST")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    available = sorted(os.sched_getaffinity(0))
    client_cpus = (
        args.client_cpus or [c for c in available if c not in args.server_cpus] or available
    )
    os.sched_setaffinity(0, client_cpus)
    nofile = raise_nofile(args.sockets + 10_000)
    if nofile < args.sockets + 1_000:
        print(
            f"bench.scale: the descriptor limit is {nofile} (hard limit; raising it needs "
            f"CAP_SYS_RESOURCE), too few for {args.sockets:,} sockets in one process: use "
            f"--sockets {max(1_000, nofile - 2_000)} here, or raise the hard limit (ulimit -Hn)."
        )
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = RESULTS / "logs" / f"{stamp}-scale"
    env = dict(TARGET.env)
    shares = split(args.sockets, args.workers)
    print(f"bench.scale: {args.sockets:,} sockets from {len(shares)} workers; nofile {nofile}")
    with runner.started(TARGET, args.server_cpus, logs, env) as (servers, ports):
        pids = [p for s in servers for p in procs.tree(s.pid)]
        url = f"ws://127.0.0.1:{ports[0]}{TARGET.path.format(room=ROOM)}"
        rss: dict[str, int] = {"before": procs.rss_bytes(pids)}
        cpu0 = procs.cpu_seconds(pids)

        def on_step(step: int) -> None:
            if step == 0:
                time.sleep(1.0)
                rss["held"] = procs.rss_bytes([p for s in servers for p in procs.tree(s.pid)])

        jobs: list[pool.Job] = [
            (crowd_job, {"url": url, "count": n, "source": f"127.0.0.{2 + i}", "publisher": i == 0})
            for i, n in enumerate(shares)
        ]
        outcome = pool.run(jobs, steps=3, timeout=args.timeout, on_step=on_step)
        cpu = procs.cpu_seconds([p for s in servers for p in procs.tree(s.pid)]) - cpu0
    results = outcome.ok
    row: dict[str, Any] = {"sockets": args.sockets, "errors": outcome.errors, "rss": rss}
    if len(results) == len(jobs):
        sent = next(r["sent"] for r in results if r["sent"] is not None)
        row |= {
            "delivered": sum(r["delivered"] for r in results),
            "broadcast_ms": 1000 * (max(r["last"] for r in results) - sent),
            "open_s": max(r["open_s"] for r in results),
            "server_cpu_s": cpu,
            "rss_held_mib": rss.get("held", 0) / 2**20,
            "bytes_per_conn": (rss.get("held", 0) - rss["before"]) / args.sockets,
        }
    out = RESULTS / f"{stamp}-scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=2))
    print(json.dumps(row, indent=2))
    return 0 if not outcome.errors and row.get("delivered") == args.sockets else 1


if __name__ == "__main__":
    sys.exit(main())
