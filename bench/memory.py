"""``python -m bench.memory [--sockets N]``: what one idle connection costs ``manage.py serve``.

Two runs of the ``wsapp@serve`` target (``bench.targets``: ``WSAPP_ENV``, ``DJANGO_DEBUG=0``, the
demo's ``/ws/echo/``), each opening ``N`` idle sockets with the ``websockets`` client
(``bench.client.open_many``) after ``--warmup`` sockets were opened and closed (one-time imports
and caches are not per-connection costs):

1. as the target runs it: server RSS (``/proc``) before and after, per connection;
2. under :mod:`bench.experiments.tracemalloc_settings`: a tracemalloc snapshot before and after
   (SIGUSR1, see :mod:`bench.experiments.memtrace`; tracing starts at the first), the difference per connection grouped by
   package and by allocation site, and one connection's objects by part and by type.

Allocations are charged to the innermost frame outside the rest of the standard library
(``asyncio`` counts as a package). Every process started here is stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import client, procs
from bench.__main__ import parse_cpus
from bench.targets import SERVE, WSAPP_ENV

ROOT = Path(__file__).resolve().parent.parent
PATH = "/ws/echo/"
TRACE_ENV = {**WSAPP_ENV, "DJANGO_SETTINGS_MODULE": "bench.experiments.tracemalloc_settings"}
# Where an allocation's frame lives, most specific first (the packages the issue asks about).
PACKAGES = [
    ("/wsapp/server/", "wsapp (serve)"),
    ("/wsapp/", "wsapp"),
    ("/consumers/", "demo handlers"),
    ("/bench/", "bench probe"),
    ("site-packages/autobahn/", "autobahn"),
    ("site-packages/twisted/", "twisted"),
    ("site-packages/daphne/", "daphne"),
    ("site-packages/channels/", "channels"),
    ("site-packages/asgiref/", "asgiref"),
    ("site-packages/django/", "django"),
    ("site-packages/txaio/", "txaio"),
    ("/asyncio/", "asyncio"),
]


def package_of(filename: str) -> str | None:
    """The package a frame belongs to; None for the rest of the standard library."""
    for needle, name in PACKAGES:
        if needle in filename:
            return name
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if "/lib/python3" in filename or filename.startswith("<"):
        return None
    return "other"


def short(filename: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def charge(traceback: tracemalloc.Traceback) -> tuple[str, str]:
    """``(package, site)``: the innermost frame outside the rest of the standard library."""
    frames = list(traceback)[::-1]  # innermost first
    for frame in frames:
        package = package_of(frame.filename)
        if package is not None:
            return package, f"{short(frame.filename)}:{frame.lineno}"
    inner = frames[0] if frames else None
    return "stdlib (other)", f"{short(inner.filename)}:{inner.lineno}" if inner else "?"


def grouped(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> dict[str, Counter[str]]:
    """Bytes and blocks allocated between the snapshots, by package and by site."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("package", "site", "site_blocks")}
    for diff in after.compare_to(before, "traceback"):
        package, site = charge(diff.traceback)
        out["package"][package] += diff.size_diff
        out["site"][f"{site} [{package}]"] += diff.size_diff
        out["site_blocks"][f"{site} [{package}]"] += diff.count_diff
    return out


# -- runs -----------------------------------------------------------------------------------


def _start(env: dict[str, str], cpus: Sequence[int], logs: Path, name: str) -> tuple[Any, str]:
    port = procs.free_port()
    argv = [a.format(port=port, python=sys.executable) for a in SERVE]
    server = procs.start(name, argv, cpus=cpus, env=env, cwd=ROOT, log=logs / f"{name}.log")
    try:
        procs.wait_listening(server, port, timeout=60)
    except procs.ServerFailed:
        procs.stop(server)
        raise
    return server, f"ws://127.0.0.1:{port}{PATH}"


async def _idle(url: str, count: int) -> list[Any]:
    return await client.open_many([url], count, concurrency=50)


def _rss(server: Any) -> int:
    return procs.rss_bytes(procs.tree(server.pid))


def _snapshot(server: Any, where: Path, k: int, timeout: float = 120.0) -> dict[str, Any]:
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not (where / f"done-{k}").exists():
        if time.monotonic() > deadline or server.popen.poll() is not None:
            raise procs.ServerFailed(f"no snapshot {k}:\n{server.log_tail()}")
        time.sleep(0.1)
    return json.loads((where / f"objects-{k}.json").read_text())


def measure(args: argparse.Namespace, *, traced: bool) -> dict[str, Any]:
    """One server run: RSS (and, traced, the two snapshots) around ``args.sockets`` sockets."""
    where = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    env = {**TRACE_ENV, "BENCH_MEMORY_DUMP": str(where)} if traced else dict(WSAPP_ENV)
    name = "wsapp@serve+tracemalloc" if traced else "wsapp@serve"
    server, url = _start(env, args.server_cpus, where, name)
    loop = asyncio.new_event_loop()
    try:
        warm = loop.run_until_complete(_idle(url, args.warmup))
        loop.run_until_complete(client.close_all(warm))
        time.sleep(args.settle)
        if traced:
            _snapshot(server, where, 0)
        row: dict[str, Any] = {"rss_before": _rss(server)}
        sockets = loop.run_until_complete(_idle(url, args.sockets))
        time.sleep(args.settle)
        row["rss_after"] = _rss(server)
        if traced:
            row["objects"] = _snapshot(server, where, 1)
            before = tracemalloc.Snapshot.load(str(where / "snapshot-0.pickle"))
            after = tracemalloc.Snapshot.load(str(where / "snapshot-1.pickle"))
            row["groups"] = grouped(before, after)
        loop.run_until_complete(client.close_all(sockets))
    finally:
        procs.stop(server)
        loop.close()
    row["rss_per_conn"] = (row["rss_after"] - row["rss_before"]) / args.sockets
    return row


# -- report ---------------------------------------------------------------------------------


def _kb(n: float) -> str:
    return f"{n / 1024:7.2f}"


def report(n: int, plain: dict[str, Any], traced: dict[str, Any], top: int) -> str:
    """The tables, in Markdown."""
    groups = traced["groups"]
    total = sum(groups["package"].values())
    lines = [
        f"N = {n} idle sockets on `{PATH}`, per connection:",
        "",
        f"- RSS (as `wsapp@serve` runs): **{plain['rss_per_conn'] / 1024:.2f} KB**",
        f"- RSS with tracemalloc on: {traced['rss_per_conn'] / 1024:.2f} KB",
        f"- tracemalloc (Python allocations): **{total / n / 1024:.2f} KB**",
        "",
        "| package | KB/conn | share |",
        "|---|---:|---:|",
    ]
    for package, size in groups["package"].most_common():
        if abs(size) / n >= 8:
            lines.append(f"| {package} | {_kb(size / n)} | {100 * size / total:4.1f}% |")
    lines += ["", f"| site (top {top}) | B/conn | blocks/conn |", "|---|---:|---:|"]
    for site, size in groups["site"].most_common(top):
        blocks = groups["site_blocks"][site] / n
        lines.append(f"| `{site}` | {size / n:7.0f} | {blocks:5.2f} |")
    lines += _objects(traced["objects"])
    return "\n".join(lines)


def _objects(objects: dict[str, Any]) -> list[str]:
    if "parts" not in objects:
        return ["", f"(no object inventory: {objects})"]
    lines = [
        "",
        f"One connection's own objects (`sys.getsizeof`, shared ones subtracted): "
        f"{objects['owned_objects']} objects, {objects['owned_bytes'] / 1024:.2f} KB",
        "",
        "| part | objects | bytes | biggest types |",
        "|---|---:|---:|---|",
    ]
    dicts = ", ".join(f"{k} {n} keys/{b} B" for k, (n, b) in objects.get("dicts", {}).items())
    lines[2:2] = [f"Instance dicts: {dicts}", ""] if dicts else []
    for part in objects["parts"]:
        kinds = ", ".join(f"{t} ×{c}" for t, c in part["types"].items())
        lines.append(f"| {part['part']} | {part['objects']} | {part['bytes']} | {kinds} |")
    lines += ["", "| type | count | bytes |", "|---|---:|---:|"]
    for row in objects["types"][:20]:
        lines.append(f"| `{row['type']}` | {row['count']} | {row['bytes']} |")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    available = sorted(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000, help="idle sockets (default 1000)")
    parser.add_argument("--warmup", type=int, default=20, help="sockets opened and closed first")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before each reading")
    parser.add_argument("--top", type=int, default=25, help="allocation sites listed")
    parser.add_argument("--server-cpus", type=parse_cpus, default=available[:1],
                        help="taskset list for the server (default: the first CPU)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--rss-only", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    if not 2 <= args.sockets <= 5000:
        parser.error("--sockets must be between 2 and 5000 (this is a shared machine)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plain = measure(args, traced=False)
    if args.rss_only:
        print(f"N = {args.sockets}: RSS {plain['rss_per_conn'] / 1024:.2f} KB per connection")
        traced: dict[str, Any] = {}
    else:
        traced = measure(args, traced=True)
        print(report(args.sockets, plain, traced, args.top))
    if args.json:
        data = {"sockets": args.sockets, "plain": plain, "traced": traced}
        args.json.write_text(json.dumps(data, indent=1, default=dict))


if __name__ == "__main__":
    main()
