"""``python -m bench.plot [RESULTS.json] [-o OUT.png]``: fan-out throughput and latency vs room size.

Reads one run (``bench/results/latest.json`` by default), so every curve on the plot was measured
on the same machine in the same run, and draws one line per fan-out target.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def series(rows: list[dict[str, Any]], scenario: str, field: str) -> dict[str, list[tuple]]:
    """``{target: [(room size, value), ...]}`` for one fan-out scenario."""
    found: defaultdict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        if row.get("scenario") == scenario and isinstance(row.get(field), int | float):
            found[row["target"]].append((row["params"]["members"], row[field]))
    return {name: sorted(points) for name, points in found.items()}


def plot(run: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    import matplotlib.pyplot as plt

    panels = [
        ("fanout-flood", "rate", "deliveries/s, flooded"),
        ("fanout-paced", "p99_ms", "p99 latency (ms), paced"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 4.5))
    for ax, (scenario, field, title) in zip(axes, panels, strict=True):
        for name, points in series(run["rows"], scenario, field).items():
            sizes, values = zip(*points, strict=True)
            ax.plot(sizes, values, marker="o", label=name)
        ax.set(title=title, xlabel="room members", xscale="log", yscale="log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize="small")
    meta = run["meta"]
    fig.suptitle(
        f"fan-out, one publisher · {meta['stamp']} · {meta['machine']['cpu']}, "
        f"server on CPU {meta['server_cpus']}, client on CPU {meta['client_cpus']}",
        fontsize="medium",
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__)
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("-o", "--out", type=Path, default=RESULTS / "fanout.png")
    args = parser.parse_args(argv)
    print(plot(json.loads(args.results.read_text()), args.out))


if __name__ == "__main__":
    main()
