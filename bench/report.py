"""Ratios against the anchors, the printed tables, and the JSON written to ``bench/results/``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CLIENT_BOUND_PCT = 90.0
NOISY_PCT = 10.0


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    """Rows with the same key are comparable: same group, scenario and load shape."""
    return (row["group"], row["scenario"], json.dumps(row.get("params"), sort_keys=True))


def _ratio(num: Any, den: Any) -> float | None:
    ok = all(isinstance(x, int | float) and math.isfinite(x) and x > 0 for x in (num, den))
    return num / den if ok else None


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Ratios of each row against its group's anchor; > 1 is better, except memory (< 1)."""
    anchors = {_key(r): r for r in rows if r.get("anchor")}
    for row in rows:
        anchor = anchors.get(_key(row))
        if anchor is None:
            continue
        if row["scenario"] == "idle":
            row["x_memory"] = _ratio(row.get("bytes_per_conn"), anchor.get("bytes_per_conn"))
            continue
        row["x_rate"] = _ratio(row.get("rate"), anchor.get("rate"))
        row["x_cpu"] = _ratio(anchor.get("server_us_per_op"), row.get("server_us_per_op"))
        row["x_p99"] = _ratio(anchor.get("p99_ms"), row.get("p99_ms"))


def _num(value: Any, fmt: str) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    return format(value, fmt)


def _notes(row: dict[str, Any]) -> str:
    notes = []
    if row.get("anchor"):
        notes.append("anchor")
    if (row.get("other_cpu_pct") or 0) >= NOISY_PCT:
        notes.append("noisy: other processes on the server's cores")
    if (row.get("client_cpu_pct") or 0) >= CLIENT_BOUND_PCT:
        notes.append("client-bound: compare srv µs/op")
    if row.get("lost"):
        notes.append(f"lost {row['lost']:,}/{row['expected']:,}")
    if row.get("errors"):
        notes.append("ERROR " + "; ".join(row["errors"])[:120])
    runs = row.get("runs") or []
    if len(runs) > 1 and row["scenario"] != "idle":
        field, fmt = ("p99_ms", ".0f") if row["scenario"] == "fanout-paced" else ("rate", ",.0f")
        spread = "/".join(_num(r.get(field), fmt) for r in runs)
        notes.append(f"{'p99 ms' if field == 'p99_ms' else 'ops/s'} of {len(runs)} runs: {spread}")
    return ", ".join(notes)


Column = tuple[str, Callable[[dict[str, Any]], str]]
RATE_COLUMNS: list[Column] = [
    ("ops/s", lambda r: _num(r.get("rate"), ",.0f")),
    ("×", lambda r: _num(r.get("x_rate"), ".2f")),
    ("p50 ms", lambda r: _num(r.get("p50_ms"), ".2f")),
    ("p99 ms", lambda r: _num(r.get("p99_ms"), ".2f")),
    ("p99 ×", lambda r: _num(r.get("x_p99"), ".2f")),
    ("srv µs/op", lambda r: _num(r.get("server_us_per_op"), ".0f")),
    ("cpu ×", lambda r: _num(r.get("x_cpu"), ".2f")),
    ("srv CPU%", lambda r: _num(r.get("server_cpu_pct"), ".0f")),
    ("cli CPU%", lambda r: _num(r.get("client_cpu_pct"), ".0f")),
    ("other%", lambda r: _num(r.get("other_cpu_pct"), ".0f")),
]
IDLE_COLUMNS: list[Column] = [
    ("conns", lambda r: " → ".join(f"{n:,}" for n in r["params"]["conns"])),
    ("RSS before MiB", lambda r: _num(r.get("rss_before", 0) / 2**20, ".1f")),
    ("RSS at max MiB", lambda r: _num(r.get("rss_at_max_mib"), ".1f")),
    ("B/conn", lambda r: _num(r.get("bytes_per_conn"), ",.0f")),
    ("mem ×", lambda r: _num(r.get("x_memory"), ".2f")),
]


def tables(rows: Sequence[dict[str, Any]]) -> str:
    """One markdown table per comparable set of rows, in the order they were measured."""
    out: list[str] = []
    seen: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["scenario"] != "unavailable":
            seen.setdefault(_key(row), []).append(row)
    for (group, scenario, params), members in seen.items():
        columns = IDLE_COLUMNS if scenario == "idle" else RATE_COLUMNS
        out.append(f"\n### {group} · {scenario} · {_params(json.loads(params))}")
        out.append("| target | " + " | ".join(c[0] for c in columns) + " | notes |")
        out.append("|---|" + "---:|" * len(columns) + "---|")
        for row in members:
            cells = [fn(row) for _, fn in columns]
            out.append(f"| {row['target']} | " + " | ".join(cells) + f" | {_notes(row)} |")
    missing = [r for r in rows if r["scenario"] == "unavailable"]
    if missing:
        out.append("\nNot measured:")
        out += [f"- {r['target']}: {r['errors'][0]}" for r in missing]
    out.append(
        "\nops/s: echoes, connections or deliveries per second. × = ratio against the group's"
        " anchor, > 1 is better (ops/s; srv µs/op and p99 inverted). mem × = bytes per idle"
        " connection against the anchor's, < 1 is less memory. other% = CPU used on the server's"
        " cores by other processes (a shared machine; redis-server counts here)."
    )
    return "\n".join(out)


def _params(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items() if v is not None)


def write(results_dir: Path, run: dict[str, Any]) -> Path:
    """``results/<stamp>.json`` (latencies are not kept, only their summaries) and a copy."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{run['meta']['stamp']}-{run['meta']['profile']}.json"
    text = json.dumps(run, indent=1, default=str)
    path.write_text(text)
    (results_dir / "latest.json").write_text(text)
    return path


# Issue 6's targets: (label, scenario, params filter, ours, theirs, measure, goal).
# measure "rate": ours/theirs ops/s (server µs/op when either side is client-bound);
# "p99": theirs/ours p99; "memory": ours/theirs bytes per idle connection (lower is better).
# Issue 12's targets: (label, scenario, params, ours, theirs, measure, goal). Every measure is
# a ratio of server CPU per operation (or RSS, or p99) from one run, written so that the goal
# reads as the issue writes it: "us" = ours/theirs µs per op (≤ goal), "speedup" = theirs/ours
# µs per op (≥ goal), "p99" = theirs/ours p99 (≥ goal), "memory" = ours/theirs B per connection
# (≤ goal), "per-core" = ours in operations per server core-second (≥ goal, no theirs).
FANOUT_1000x2 = {"members": 1000, "procs": 2}
TARGETS_OF_ISSUE = [
    ("fan-out 1,000 × 2 procs, Redis, flooded: srv µs/delivery vs websockets.broadcast()",
     "fanout-flood", {"members": 1000}, "wsapp-rooms@serve×2", "websockets-broadcast", "us", 0.7),
    ("the same vs the Channels group_send pattern (2 procs, channels_redis)",
     "fanout-flood", FANOUT_1000x2, "wsapp-rooms@serve×2", "channels-group@daphne×2",
     "speedup", 30.0),
    ("the same: deliveries per server core-second", "fanout-flood", FANOUT_1000x2,
     "wsapp-rooms@serve×2", None, "per-core", 500_000.0),
    ("the same, paced: p99 vs Channels'", "fanout-paced", FANOUT_1000x2,
     "wsapp-rooms@serve×2", "channels-group@daphne×2", "p99", 10.0),
    ("echo under serve vs the bare ASGI echo on Daphne", "echo", {}, "wsapp@serve",
     "bare-asgi@daphne", "speedup", 1.3),
    ("echo under serve: srv µs/msg vs Starlette on uvicorn", "echo", {}, "wsapp@serve",
     "starlette@uvicorn", "us", 1.2),
    ("open + close under serve vs Channels on Daphne", "connect", {}, "wsapp@serve",
     "channels@daphne", "speedup", 2.0),
    ("open + close under serve: srv µs vs Starlette on uvicorn", "connect", {}, "wsapp@serve",
     "starlette@uvicorn", "us", 1.3),
    ("memory per idle connection under serve vs Channels on Daphne", "idle", {}, "wsapp@serve",
     "channels@daphne", "memory", 0.5),
]  # fmt: skip
AT_MOST = {"us", "memory"}


def _find(
    rows: Sequence[dict[str, Any]], target: str | None, scenario: str, where: dict
) -> dict | None:
    for row in rows:
        if row.get("target") == target and row.get("scenario") == scenario:
            params = row.get("params") or {}
            if all(params.get(k) == v for k, v in where.items()):
                return row
    return None


def _measure(ours: dict, theirs: dict | None, measure: str) -> float | None:
    us = "server_us_per_op"
    if measure == "per-core":
        return _ratio(1e6, ours.get(us))
    assert theirs is not None
    if measure == "memory":
        return _ratio(ours.get("bytes_per_conn"), theirs.get("bytes_per_conn"))
    if measure == "p99":
        return _ratio(theirs.get("p99_ms"), ours.get("p99_ms"))
    if measure == "us":
        return _ratio(ours.get(us), theirs.get(us))
    return _ratio(theirs.get(us), ours.get(us))


def targets_table(rows: Sequence[dict[str, Any]]) -> str:
    """Issue 12's targets as measured in one run: ratio, goal, met or missed."""
    out = ["| target | ours | theirs | measured | goal | |", "|---|---|---|---:|---:|---|"]
    for label, scenario, where, ours_name, theirs_name, measure, goal in TARGETS_OF_ISSUE:
        ours = _find(rows, ours_name, scenario, where)
        theirs = _find(rows, theirs_name, scenario, where) if theirs_name else None
        if ours is None or (theirs_name and theirs is None):
            out.append(
                f"| {label} | {ours_name} | {theirs_name or '–'} | – | {goal:g} | not measured |"
            )
            continue
        value = _measure(ours, theirs, measure)
        at_most = measure in AT_MOST
        met = value is not None and (value <= goal if at_most else value >= goal)
        noisy = any((r.get("other_cpu_pct") or 0) >= NOISY_PCT for r in (ours, theirs) if r)
        verdict = ("**met**" if met else "**missed**") + (" (noisy)" if noisy else "")
        if measure == "per-core":
            shown, goal_text = f"{_num(value, ',.0f')}/s", f"≥ {goal:,.0f}/s"
        else:
            shown, goal_text = f"{_num(value, '.2f')}×", f"{'≤' if at_most else '≥'} {goal:g}×"
        out.append(
            f"| {label} | {ours_name} | {theirs_name or '–'} | {shown} | {goal_text} | {verdict} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.report [RESULTS.json]``: the tables of a past run (latest by default)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument(
        "results", nargs="?", type=Path, default=Path(__file__).parent / "results" / "latest.json"
    )
    parser.add_argument("--targets", action="store_true", help="only issue 12's targets")
    args = parser.parse_args(argv)
    run = json.loads(args.results.read_text())
    if args.targets:
        print(targets_table(run["rows"]))
        return
    print(tables(run["rows"]))


if __name__ == "__main__":
    main()
