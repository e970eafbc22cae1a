"""``python -m bench [--quick] [--only NAME ...]``: every server in turn, one table of ratios.

Server and client are pinned to different cores so they do not steal each other's CPU: the
servers run under ``taskset -c <server cpus>``, and the runner pins itself (and so its client
processes) to the other cores with ``sched_setaffinity``, the call ``taskset`` makes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import meta, pool, report, runner
from bench.profiles import FULL, QUICK
from bench.targets import TARGETS, Target

RESULTS = Path(__file__).resolve().parent / "results"


def parse_cpus(text: str) -> list[int]:
    """``"0"``, ``"1-3"``, ``"0,2"``: taskset's list syntax."""
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return cpus


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    available = sorted(os.sched_getaffinity(0))
    half = max(1, len(available) // 2)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, under two minutes")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME",
        help="targets whose name contains NAME, or of kind/group NAME (echo, json, fanout); "
        "repeatable",
    )  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument(
        "--experiments", action="store_true",
        help="also run the what-if targets (bench/experiments/), after the others",
    )  # fmt: skip
    parser.add_argument("--server-cpus", type=parse_cpus, default=available[:half], metavar="LIST")
    parser.add_argument(
        "--client-cpus", type=parse_cpus, default=available[half:] or available, metavar="LIST"
    )
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--rooms", type=lambda t: tuple(int(n) for n in t.split(",")), default=None,
        metavar="N,N", help="fan-out room sizes instead of the profile's (100 and 1000 in full)",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per scenario (the best is kept)"
    )
    return parser.parse_args(argv)


def selected(only: list[str]) -> list[Target]:
    """Every target (experiments only when an ``--only`` names them), or those ``only`` picks."""
    if not only:
        return [t for t in TARGETS if not t.experiment]
    return [
        t for t in TARGETS
        if any(o in t.name or (not t.experiment and o in (t.kind, t.group)) for o in only)
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = selected(args.only)
    if args.experiments:
        targets += [t for t in TARGETS if t.experiment and t not in targets]
    if args.list or not targets:
        for t in TARGETS:
            print(f"{t.name:28} {t.group:14} {t.path:20} {t.note}")
        return 0 if targets else 2
    profile = QUICK if args.quick else FULL
    if args.rooms:
        profile = dataclasses.replace(profile, room_sizes=args.rooms)
    if args.repeat:
        profile = dataclasses.replace(profile, repeat=args.repeat)
    os.sched_setaffinity(0, args.client_cpus)
    nofile = pool.raise_nofile()  # inherited by the servers and the client processes
    run: dict[str, Any] = {
        "meta": meta.collect(
            runner.ROOT, profile.name, args.server_cpus, args.client_cpus, args.workers
        ),
        "rows": [],
    }
    say(
        f"bench ({profile.name}): servers pinned with taskset -c "
        f"{','.join(map(str, args.server_cpus))}, client ({args.workers} processes) pinned to "
        f"CPU {','.join(map(str, args.client_cpus))}; descriptor limit {nofile}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    started = time.monotonic()
    logs = RESULTS / "logs" / run["meta"]["stamp"]
    for target in targets:
        rows = runner.run_target(
            target, profile, server_cpus=args.server_cpus, client_cpus=len(args.client_cpus),
            workers=args.workers, logs=logs, say=say,
        )  # fmt: skip
        for row in rows:
            row |= {"target": target.name, "group": target.group, "kind": target.kind,
                    "anchor": target.anchor, "note": target.note}  # fmt: skip
        run["rows"] += rows
    report.add_ratios(run["rows"])
    run["meta"]["duration_s"] = time.monotonic() - started
    path = report.write(RESULTS, run)
    print(report.tables(run["rows"]))
    say(f"\n{len(targets)} targets in {run['meta']['duration_s']:.0f}s; results in {path}")
    return 0


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
