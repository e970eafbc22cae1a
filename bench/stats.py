"""Percentiles and rates, computed the same way for every server."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (``q`` in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    ordered = sorted(latencies)
    return {
        "p50_ms": percentile(ordered, 50) * 1e3,
        "p99_ms": percentile(ordered, 99) * 1e3,
        "max_ms": (ordered[-1] if ordered else math.nan) * 1e3,
    }


def throughput(results: Sequence[dict[str, Any]], client_cpus: int) -> dict[str, float]:
    """Ops per second over the union of the jobs' windows, and the client's CPU use.

    ``client_cpu_pct`` is the jobs' CPU time over the wall time of the window and the client's
    cores: at 90 % and more the client, not the server, sets the pace.
    """
    ops = sum(r["ops"] for r in results)
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    cpu = sum(r.get("cpu", 0.0) for r in results)
    return {
        "ops": ops,
        "wall_s": wall,
        "rate": ops / wall if wall > 0 else math.nan,
        "client_cpu_pct": 100 * cpu / wall / client_cpus if wall > 0 else math.nan,
    }
