"""``python -m bench.profile TARGET SCENARIO``: where a server's time goes under one bench load.

Starts ``TARGET`` (a name from ``python -m bench --list``) the way the runner does, pinned the same
way, attaches ``py-spy record`` to each server process, runs ``SCENARIO`` (``echo``, ``json``,
``connect``, ``fanout-flood`` or ``fanout-paced``) ``--repeat`` times, stops py-spy with SIGINT and
prints where the sampled CPU went: by package or layer, by function (self time) and by function
(inclusive time, each function counted once per stack). The raw collapsed stacks are kept in
``bench/results/profiles/`` (``flamegraph.pl`` or speedscope read them).

py-spy samples only threads that are running (not idle), so the shares are shares of the
server's CPU, not of the wall time. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import pool, procs, runner, scenarios
from bench.__main__ import parse_cpus
from bench.profiles import FULL, Profile
from bench.targets import TARGETS, Target

OUT = Path(__file__).resolve().parent / "results" / "profiles"
PY_SPY = Path(sys.executable).with_name("py-spy")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")

# Where a frame's file lives, most specific first: the layer each sample is charged to.
LAYERS = [
    ("wsapp/server/", "wsapp serve (protocol, server)"),
    ("wsapp/rooms/", "wsapp rooms (hub)"),
    ("/wsapp/", "wsapp core"),
    ("/consumers/", "demo handlers"),
    ("/bench/servers/", "bench app"),
    ("site-packages/autobahn/", "autobahn (websocket protocol)"),
    ("site-packages/twisted/", "twisted"),
    ("site-packages/daphne/", "daphne"),
    ("site-packages/channels_redis/", "channels_redis"),
    ("site-packages/redis/", "redis-py"),
    ("site-packages/channels/", "channels"),
    ("site-packages/asgiref/", "asgiref"),
    ("site-packages/django/", "django"),
    ("site-packages/msgpack/", "msgpack"),
    ("site-packages/uvicorn/", "uvicorn"),
    ("site-packages/websockets/", "websockets"),
    ("site-packages/starlette/", "starlette"),
    ("/asyncio/", "asyncio"),
    ("/json/", "json"),
    ("/zlib", "zlib"),
]


def layer_of(path: str) -> str:
    for needle, name in LAYERS:
        if needle in path:
            return name
    if "site-packages/" in path:
        return "other: " + path.split("site-packages/")[1].split("/")[0]
    if "/lib/python3" in path:
        return "stdlib (other)"
    return "other"


def parse_frame(frame: str) -> tuple[str, str]:
    """``("func", "file")`` of one py-spy frame ``func (file:line)``."""
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip(), ""
    return found["func"], found["file"]


def short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarize(raw: str, top: int = 25) -> str:
    """Shares of samples by layer, by function (self) and by function (inclusive)."""
    by_layer: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [parse_frame(f) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f[0].startswith("process ") and f[1]]
        if not frames:
            continue
        func, path = frames[-1]
        by_layer[layer_of(path)] += count
        self_time[f"{func} ({short(path)})"] += count
        for name in {f"{fn} ({short(p)})" for fn, p in frames}:
            inclusive[name] += count
    if not total:
        return "no samples (was the server busy? is py-spy allowed to attach?)"
    out = [f"{total} samples of the server's CPU", "", "by layer (self time):"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_layer.most_common()]
    out += ["", f"top {top} functions, self time:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(top)]
    out += ["", f"top {top} functions, inclusive time:"]
    out += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("target", help="exact target name (python -m bench --list)")
    parser.add_argument(
        "scenario", choices=["echo", "json", "connect", "fanout-flood", "fanout-paced"]
    )
    parser.add_argument("--members", type=int, default=1000, help="fan-out room size")
    parser.add_argument("--repeat", type=int, default=3, help="scenario runs while sampling")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--server-cpus", type=parse_cpus, default=None, metavar="LIST")
    parser.add_argument("--client-cpus", type=parse_cpus, default=None, metavar="LIST")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--native", action="store_true",
        help="sample C frames too (shows the garbage collector, zlib, syscalls)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    target = next((t for t in TARGETS if t.name == args.target), None)
    if target is None:
        parser.error(f"no target {args.target!r}; see python -m bench --list")
    available = sorted(os.sched_getaffinity(0))
    half = max(1, len(available) // 2)
    server_cpus = args.server_cpus or available[:half]
    client_cpus = args.client_cpus or available[half:] or available
    os.sched_setaffinity(0, client_cpus)
    pool.raise_nofile()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{target.name}-{args.scenario}")
    logs = OUT / "logs" / stamp
    env = dict(target.env)
    p = FULL
    with runner._maybe_redis(target, server_cpus, logs) as redis_url:
        if redis_url:
            env["REDIS_URL"] = redis_url
        with runner.started(target, server_cpus, logs, env) as (servers, ports):
            urls = [f"ws://127.0.0.1:{port}{target.path}" for port in ports]
            asyncio.run(runner.check_endpoint(target, urls))
            probe = scenarios.Probe(
                pids=lambda: [pid for s in servers for pid in procs.tree(s.pid)],
                server_cpus=server_cpus,
                client_cpus=len(client_cpus),
                workers=args.workers,
            )
            spies = []
            raws = []
            try:
                for i, server in enumerate(servers):
                    raw = OUT / f"{stamp}-{name}.{i}.txt"
                    raws.append(raw)
                    spies.append(
                        subprocess.Popen(
                            [
                                str(PY_SPY),
                                "record",
                                "--pid",
                                str(server.pid),
                                "--format",
                                "raw",
                                "--rate",
                                str(args.rate),
                                "--output",
                                str(raw),
                                "--subprocesses",
                                "--full-filenames",
                                *(["--native"] if args.native else []),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                        )  # fmt: skip
                    )
                time.sleep(1.0)  # py-spy attaches
                for _ in range(args.repeat):
                    row = run_once(args.scenario, target, probe, urls, args.members, p)
                    print(runner._brief(row), flush=True)
            finally:
                for spy in spies:
                    if spy.poll() is None:
                        spy.send_signal(signal.SIGINT)
                for spy in spies:
                    try:
                        spy.wait(20)
                    except subprocess.TimeoutExpired:
                        spy.kill()
                        spy.wait(5)
    for raw in raws:
        print(f"\n== {raw}")
        print(summarize(raw.read_text() if raw.exists() else ""))
    return 0


def run_once(
    scenario: str,
    target: Target,
    probe: scenarios.Probe,
    urls: list[str],
    members: int,
    p: Profile,
) -> dict[str, Any]:
    if scenario in ("echo", "json"):
        return scenarios.echo(
            probe, urls[0], conns=p.echo_conns, msgs=p.echo_msgs, size=p.echo_size,
            as_json=scenario == "json", timeout=p.timeout,
        )  # fmt: skip
    if scenario == "connect":
        return scenarios.connect_rate(
            probe, urls[0], total=p.connect_total, concurrency=p.connect_concurrency,
            timeout=p.timeout,
        )  # fmt: skip
    paced = scenario == "fanout-paced"
    room_urls = [u.replace("{room}", f"profile-{scenario}") for u in urls]
    return scenarios.fanout(
        probe, room_urls, members=members,
        count=p.paced_msgs if paced else p.flood_msgs,
        rate=p.paced_deliveries / members if paced else None,
        template=target.publish, pad=p.pad, grace=p.grace, timeout=p.timeout,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
