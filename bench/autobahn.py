"""``python -m bench.autobahn [--quick] [--only NAME]``: Autobahn TestSuite conformance per server.

``autobahntestsuite`` is Python 2 only; ``kosoku`` (PyPI) runs the same case files natively as a
fuzzing client. Each server is started on a free 127.0.0.1 port (pinned like the benchmark's
servers), driven through cases 1–7, 9, 10, 12 and 13 against its ``/ws/echo/``, and stopped by
its PID. Cases run in chunks, each in its own process with its own time limit, so a case that
hangs costs one chunk, not the run. ``--quick`` runs a subset (every case of 1–7 and 10, the
small 9.x, a few 12.x/13.x); the full run takes minutes per server (9.x sends up to 16 MiB,
12.x/13.x a thousand compressed messages per case).

A case counts as *pass* when kosoku's verdicts for both the messages and the close are OK or
INFORMATIONAL, *non-strict* when one of them is NON-STRICT (conformant, short of a SHOULD),
*unimplemented* when the server does not implement the feature (e.g. no permessage-deflate),
and *fail* otherwise (FAILED, WRONG CODE, UNCLEAN, an error, or a chunk that timed out).

wsapp runs with ``bench.servers.autobahn_settings``: the defaults but for the two limits the 9.x
cases exceed by design (``MAX_MESSAGE_SIZE`` 16 MiB, ``MAX_FRAGMENTS`` 65,536). The default 4 MiB
``MAX_SEND_BUFFER`` no longer closes 9.1.6/9.2.6's 16 MiB echoes (it counts only what a client has
not read before the latest message); ``BENCH_AUTOBAHN_SEND_BUFFER=<bytes>`` still overrides it.
Results: ``bench/results/autobahn-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import queue as queue_mod
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import meta, pool, procs
from bench.__main__ import parse_cpus
from bench.targets import DAPHNE, SERVE, UVICORN, WSAPP_ENV

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
AUTOBAHN_ENV = {**WSAPP_ENV, "DJANGO_SETTINGS_MODULE": "bench.servers.autobahn_settings"}


@dataclass(frozen=True)
class Server:
    name: str
    cmd: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""


SERVERS: tuple[Server, ...] = (
    Server("wsapp@serve", SERVE, AUTOBAHN_ENV,
           "manage.py serve, defaults (COMPRESSION on), MAX_MESSAGE_SIZE 16 MiB, MAX_FRAGMENTS 64 Ki, "
           "no MAX_INFLATE_RATE"),
    Server("wsapp@daphne", (*DAPHNE, "config.asgi:application"), AUTOBAHN_ENV,
           "the same app on plain Daphne (its defaults: 1 MiB, no compression)"),
    Server("wsapp@uvicorn", (*UVICORN, "config.asgi:application"), AUTOBAHN_ENV,
           "the same app on uvicorn (websockets, 16 MiB, permessage-deflate)"),
    Server("bare-asgi@uvicorn", (*UVICORN, "bench.servers.bare_asgi:app"), {},
           "kosoku's cross-check: uvicorn is known to fail only 7.1.5"),
)  # fmt: skip

MAJOR = ["1", "2", "3", "4", "5", "6", "7", "10"]
FULL_CHUNKS = (
    [f"{m}.*" for m in MAJOR]
    + [f"9.{n}.*" for n in range(1, 9)]
    + [f"12.{n}.*" for n in range(1, 6)]
    + [f"13.{n}.*" for n in range(1, 8)]
)
QUICK_CHUNKS = [f"{m}.*" for m in MAJOR] + [
    "9.1.1", "9.1.2", "9.1.3", "9.2.1", "9.2.2", "9.2.3", "9.7.1",
    "12.1.1", "12.1.2", "12.1.3", "12.1.4", "12.1.5", "12.2.1", "12.5.1",
    "13.1.1", "13.1.2", "13.1.3", "13.1.4", "13.1.5", "13.3.1", "13.7.1",
]  # fmt: skip

# A fresh interpreter per chunk, not a fork: a child forked from a process that has loaded
# Twisted, autobahn or pytest (the suite runs this too) inherits their state, and kosoku failed
# there with a cffi TypeError on every case.
_CTX = mp.get_context("spawn")


def verdict(case: dict[str, Any]) -> str:
    """``pass``, ``non-strict``, ``unimplemented`` or ``fail`` for one case result."""
    behavior, close = case["behavior"], case["behavior_close"]
    if behavior == "UNIMPLEMENTED":
        return "unimplemented"
    if not case["passed"]:
        return "fail"
    if "NON-STRICT" in (behavior, close):
        return "non-strict"
    return "pass"


def _kosoku_chunk(url: str, include: list[str], out: Any) -> None:
    """In a child process: run ``include`` against ``url``; put the results on ``out``."""
    from kosoku import FailureError, run_fuzzingclient

    async def run() -> list[Any]:
        try:
            return list(await run_fuzzingclient(url, include))
        except FailureError as failure:
            return list(failure.results)

    try:
        results = asyncio.run(run())
        out.put(("ok", [_as_dict(r) for r in results]))
    except BaseException as exc:  # report everything: the parent must not wait for nothing
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _as_dict(r: Any) -> dict[str, Any]:
    return {
        "case": r.case_id,
        "behavior": r.behavior.value,
        "behavior_close": r.behavior_close.value,
        "passed": bool(r.passed),
        "duration_ms": r.duration,
        "remote_close_code": r.remote_close_code,
        "result": r.result,
        "result_close": r.result_close,
    }


def run_chunk(url: str, include: list[str], timeout: float) -> tuple[list[dict], str | None]:
    """One kosoku process for ``include``, killed (by its PID) if it overruns ``timeout``."""
    out = _CTX.Queue()
    child = _CTX.Process(target=_kosoku_chunk, args=(url, include, out), daemon=True)
    child.start()
    try:
        kind, value = out.get(timeout=timeout)
    except queue_mod.Empty:
        kind, value = "error", f"timed out after {timeout:.0f}s"
    finally:
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join(timeout=5)
    if kind == "ok":
        return value, None
    return [], str(value)


def run_server(
    server: Server, chunks: list[str], *, cpus: list[int], timeout: float, logs: Path
) -> dict[str, Any]:
    port = procs.free_port()
    argv = [a.format(port=port, python=sys.executable) for a in server.cmd]
    log = logs / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', server.name)}.log"
    started = time.monotonic()
    cases: list[dict[str, Any]] = []
    errors: list[str] = []
    proc = procs.start(server.name, argv, cpus=cpus, env=server.env, cwd=ROOT, log=log)
    try:
        procs.wait_listening(proc, port)
        url = f"ws://127.0.0.1:{port}/ws/echo/"
        for chunk in chunks:
            t0 = time.monotonic()
            got, error = run_chunk(url, [chunk], timeout)
            cases += got
            if error:
                errors.append(f"{chunk}: {error}")
            counts = Counter(verdict(c) for c in got)
            print(
                f"  {server.name}: {chunk:8} {len(got):3} cases {dict(counts)}"
                f"{' ERROR ' + error if error else ''} ({time.monotonic() - t0:.1f}s)",
                flush=True,
            )
            if proc.popen.poll() is not None:
                errors.append(f"server exited with {proc.popen.returncode} after {chunk}")
                break
    except procs.ServerFailed as exc:
        errors.append(str(exc))
    finally:
        procs.stop(proc)
    counts = Counter(verdict(c) for c in cases)
    return {
        "server": server.name,
        "note": server.note,
        "cases": cases,
        "counts": {k: counts.get(k, 0) for k in ("pass", "non-strict", "unimplemented", "fail")},
        "total": len(cases),
        "errors": errors,
        "duration_s": time.monotonic() - started,
    }


def _ids(cases: list[dict[str, Any]]) -> str:
    """Case ids, runs of one ``major.minor`` section shortened: ``6.4.1-6.4.4, 7.1.5``."""
    by_section: dict[str, list[str]] = {}
    for c in cases:
        by_section.setdefault(c["case"].rsplit(".", 1)[0], []).append(c["case"])
    parts = []
    for ids in by_section.values():
        parts.append(ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]} ({len(ids)})")
    return ", ".join(parts)


def table(runs: list[dict[str, Any]]) -> str:
    out = [
        "| server | cases | pass | non-strict | unimplemented | fail | time | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        c = r["counts"]
        out.append(
            f"| {r['server']} | {r['total']} | {c['pass']} | {c['non-strict']} | "
            f"{c['unimplemented']} | {c['fail']} | {r['duration_s']:.0f}s | {r['note']} |"
        )
    for r in runs:
        lines = []
        for kind in ("fail", "non-strict", "unimplemented"):
            picked = [c for c in r["cases"] if verdict(c) == kind]
            if picked:
                lines.append(f"  - {kind}: {_ids(picked)}")
        for error in r["errors"]:
            lines.append(f"  - error: {error}")
        if lines:
            out.append(f"\n- **{r['server']}**\n" + "\n".join(lines))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.autobahn", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a subset, about a minute a server")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="servers whose name contains NAME (repeatable)")  # fmt: skip
    parser.add_argument("--cases", action="append", default=[], metavar="ID",
                        help="case ids or globs instead of the profile's (repeatable)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per chunk (default 60 quick, 600 full)")  # fmt: skip
    available = sorted(os.sched_getaffinity(0))
    half = max(1, len(available) // 2)
    parser.add_argument("--server-cpus", type=parse_cpus, default=available[:half])
    parser.add_argument("--client-cpus", type=parse_cpus, default=available[half:] or available)
    args = parser.parse_args(argv)
    servers = [s for s in SERVERS if not args.only or any(o in s.name for o in args.only)]
    chunks = args.cases or (QUICK_CHUNKS if args.quick else FULL_CHUNKS)
    timeout = args.timeout or (60.0 if args.quick else 600.0)
    profile = "cases" if args.cases else "quick" if args.quick else "full"
    if os.environ.get("BENCH_AUTOBAHN_SEND_BUFFER"):
        servers = [
            Server(s.name, s.cmd, s.env, s.note + f", MAX_SEND_BUFFER "
                   f"{int(os.environ['BENCH_AUTOBAHN_SEND_BUFFER']) / 2**20:g} MiB")
            if s.env is AUTOBAHN_ENV else s
            for s in servers
        ]  # fmt: skip
    os.sched_setaffinity(0, args.client_cpus)
    pool.raise_nofile()
    info = meta.collect(ROOT, profile, args.server_cpus, args.client_cpus, 1)
    info["versions"]["kosoku"] = _version("kosoku")
    info["versions"]["autobahn"] = _version("autobahn")
    print(f"autobahn ({profile}): {len(servers)} servers, chunks {' '.join(chunks)}", flush=True)
    logs = RESULTS / "logs" / f"autobahn-{info['stamp']}"
    runs = [
        run_server(s, chunks, cpus=args.server_cpus, timeout=timeout, logs=logs) for s in servers
    ]
    text = table(runs)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"autobahn-{info['stamp']}-{profile}.json"
    path.write_text(json.dumps({"meta": info, "chunks": chunks, "runs": runs}, indent=1))
    (RESULTS / "autobahn-latest.json").write_text(path.read_text())
    print(f"\nresults in {path}")
    return 0


def _version(name: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


if __name__ == "__main__":
    sys.exit(main())
