"""``python -m bench.hosts``: the demo on three "hosts" (network namespaces), one Redis, one DB.

Must-have 5 of issue 12, run by hand (as root), never by the test suite or CI::

    flock /tmp/e2e.lock .venv/bin/python -m bench.hosts [--members 50] [--timeout 300]

Each host is a network namespace (:mod:`bench.netns`) with ``--per-host`` ``manage.py serve``
processes listening on its own address, in production mode (``DJANGO_DEBUG=0``) with the cluster
settings of the e2e tests (``tests.e2e.settings_cluster``: SQLite in WAL mode shared through the
filesystem, a short ``PRESENCE_TTL`` through ``WSAPP_E2E``). One ``redis-server`` runs in the root
namespace, bound to 127.0.0.1 and to each host's peer address, so every host reaches it over its
own link. ``--members`` signed-in users per process join one room from the root namespace; the
steps and what they assert are :mod:`bench.hosts_scenario`'s.

Namespaces, veths, servers and Redis are removed at the end whatever happens (``finally``, and
``atexit`` for an exit that skips it), and leftovers of an earlier run with this prefix at the
start. Only addresses this script created are dialled. The report is printed and written to
``bench/results/<stamp>-hosts.json``; the exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import meta, netns, procs
from bench.chatmember import Member
from bench.hosts_scenario import Run, scenario
from bench.targets import WSAPP_ENV
from tests.e2e.cluster import CLUSTER_SETTINGS, django_run, session_cookies
from tests.e2e.servers import migrate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HOSTS = 3
CPUS = sorted(os.sched_getaffinity(0))
SERVE_PORT = 8100  # the first serve process's port on each host (each host has its own address)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hosts", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--members", type=int, default=50, help="signed-in members per process")
    parser.add_argument("--per-host", type=int, default=2, help="serve processes per host")
    parser.add_argument("--ttl", type=float, default=4.0, help="PRESENCE_TTL of the servers (s)")
    parser.add_argument("--gap-messages", type=int, default=3, help="sent while host 2 is down")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on the whole run (s)")
    parser.add_argument("--step-timeout", type=float, default=60.0, help="bound on one wait (s)")
    args = parser.parse_args(argv)
    if not 1 <= args.members <= 500 or not 1 <= args.per_host <= 4:
        parser.error("--members is 1..500 and --per-host 1..4: keep runs small")
    return args


@dataclass
class Cluster:
    hosts: list[netns.Host]
    servers: list[procs.Server]  # host-major, --per-host each
    urls: list[str]


class Cleanup:
    """Stops what was started and removes the namespaces, once (from ``finally`` or ``atexit``)."""

    def __init__(self) -> None:
        self.servers: list[procs.Server] = []  # the serve processes, host-major
        self.redis: list[procs.Server] = []
        self.hosts: list[netns.Host] = []
        atexit.register(self)

    def __call__(self) -> None:
        for started in (self.servers, self.redis):
            while started:
                procs.stop(started.pop())
        netns.remove(self.hosts)
        self.hosts = []


def production_env(database_url: str, ttl: float) -> dict[str, str]:
    """The servers' environment (and the seeding processes': the same ``SECRET_KEY``)."""
    return {
        **WSAPP_ENV,
        "DJANGO_SETTINGS_MODULE": CLUSTER_SETTINGS,
        "DJANGO_ALLOWED_HOSTS": ",".join(netns.address(i) for i in range(HOSTS)),
        "DATABASE_URL": database_url,
        "WSAPP_E2E": json.dumps({"PRESENCE_TTL": ttl}),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    }


def start_redis(cleanup: Cleanup, workdir: Path) -> int:
    """One ``redis-server`` without persistence, on 127.0.0.1 and every host's peer address."""
    port = procs.free_port()
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--bind", "127.0.0.1", *(h.gateway for h in cleanup.hosts)]
    # Protected mode refuses every address but loopback; these are the namespaces' private
    # point-to-point links, reachable from nowhere but this machine's own namespaces.
    argv += ["--protected-mode", "no"]
    redis = procs.start("redis", argv, cpus=CPUS, env={}, cwd=ROOT, log=workdir / "redis.log")
    cleanup.redis.append(redis)
    procs.wait_listening(redis, port)
    return port


def start_serve(
    cleanup: Cleanup, host: netns.Host, port: int, env: dict[str, str], log: Path
) -> procs.Server:
    """``manage.py serve`` inside ``host`` on its address (ready when `wait_listening` says)."""
    argv = [sys.executable, "manage.py", "serve", "--host", host.addr, "--port", str(port)]
    name = f"h{host.index}:{port}"
    server = procs.start(name, host.argv([*argv, "-v", "0"]), cpus=CPUS, env=env, cwd=ROOT, log=log)
    cleanup.servers.append(server)
    return server


@contextmanager
def cluster(
    args: argparse.Namespace, workdir: Path, env: dict[str, str], room: str
) -> Iterator[Cluster]:
    """The hosts, Redis and every serve process, listening; all of it gone on exit."""
    cleanup = Cleanup()
    try:
        cleanup.hosts = netns.create(HOSTS)
        redis_port = start_redis(cleanup, workdir)
        urls, ready = [], []
        for host in cleanup.hosts:
            host_env = {**env, "REDIS_URL": f"redis://{host.gateway}:{redis_port}/0"}
            for port in range(SERVE_PORT, SERVE_PORT + args.per_host):
                log = workdir / f"serve-h{host.index}-{port}.log"
                ready.append((start_serve(cleanup, host, port, host_env, log), host.addr, port))
                urls.append(f"ws://{host.addr}:{port}/ws/chat/{room}/")
        for server, address, port in ready:
            procs.wait_listening(server, port, timeout=60, host=address)
        yield Cluster(cleanup.hosts, list(cleanup.servers), urls)
    finally:
        cleanup()


def seed(database_url: str, room: str, users: list[str]) -> list[str]:
    """Migrate, create the room and the users; return each user's session cookie."""
    migrate(database_url, CLUSTER_SETTINGS)
    django_run(
        database_url,
        f"from wsapp.models import Room; Room.objects.create(slug={room!r}, title='Hosts bench')",
    )
    return session_cookies(database_url, users, create_users=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that finally and atexit run
    removed = netns.remove_leftovers()
    clashes = netns.foreign_addresses()
    if clashes:
        print(f"bench.hosts: {netns.SUBNET}.0/24 is in use: {clashes}", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = RESULTS / f"{stamp}-hosts"
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    env = production_env(f"sqlite:///{workdir / 'db.sqlite3'}", args.ttl)
    # The seeding processes inherit this environment: sessions signed with the servers' key.
    os.environ.update({k: v for k, v in env.items() if k != "WSAPP_E2E"})
    run, tracebacks = measure(args, workdir, env, run_id, started)
    result = {
        "stamp": stamp,
        "command": " ".join(["python -m bench.hosts", *(sys.argv[1:] if argv is None else argv)]),
        "args": vars(args),
        "commit": meta.commit(ROOT),
        "hosts": HOSTS,
        "processes": len(run.urls),
        "leftovers_removed": removed,
        "timings": run.timings,
        "checks": run.checks,
        "tracebacks_in_server_logs": tracebacks,
        "seconds": round(time.monotonic() - started, 1),
    }
    out = RESULTS / f"{stamp}-hosts.json"
    out.write_text(json.dumps(result, indent=2))
    print(report(result, out))
    return 0 if run.checks and all(c["ok"] for c in run.checks) else 1


def measure(
    args: argparse.Namespace, workdir: Path, env: dict[str, str], run_id: str, started: float
) -> tuple[Run, dict[str, int]]:
    """Seed, start the cluster, run the scenario in ``--timeout``; the run, server tracebacks."""
    room = f"hosts-{run_id}"
    users = [f"h{run_id}-{i}" for i in range(HOSTS * args.per_host * args.members)]
    pairs = list(zip(users, seed(env["DATABASE_URL"], room, users), strict=True))
    with cluster(args, workdir, env, room) as running:
        run = Run(
            members=[Member(u, c, i // args.members) for i, (u, c) in enumerate(pairs)],
            urls=running.urls,
            per_host=args.per_host,
            killed=running.servers[-args.per_host :],
            ttl=args.ttl,
            step_timeout=args.step_timeout,
            run_id=run_id,
            gap_messages=args.gap_messages,
        )
        try:
            asyncio.run(
                asyncio.wait_for(scenario(run), args.timeout - (time.monotonic() - started))
            )
        except TimeoutError:
            run.check("finished within --timeout", False, f"{args.timeout:.0f} s")
        logs = {s.name: s.log.read_text(errors="replace") for s in running.servers}
    return run, {name: text.count("Traceback") for name, text in logs.items()}


# One report line per step that ran, filled from its timings.
REPORT_LINES = (
    ("join", "join         {members} members in {all_joined_s} s; presence agreed "
             "{presence_converged_ms} ms after the last join"),
    ("broadcast", "broadcast    to {receivers} members: p50 {p50_ms} ms, max {max_ms} ms"),
    ("kill", "kill host 2  its users gone from presence after {dropout_s} s (bound {bound_s} s); "
             "{acked_meanwhile} acked meanwhile"),
    ("resume", "resume       {members} members back with since in {all_resumed_s} s, presence "
               "whole after {presence_back_s} s; last message to all: max "
               "{final_delivery[max_ms]} ms"),
)  # fmt: skip


def report(result: dict[str, Any], out: Path) -> str:
    """A few lines: the times, then each check."""
    args = result["args"]
    lines = [f"bench.hosts: {result['hosts']} hosts × {args['per_host']} serve × {args['members']}"]
    for step, template in REPORT_LINES:
        if step in result["timings"]:
            lines.append("  " + template.format(**result["timings"][step]))
    for check in result["checks"]:
        detail = f" ({check['detail']})" if check["detail"] else ""
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {check['name']}{detail}")
    tracebacks = sum(result["tracebacks_in_server_logs"].values())
    lines.append(f"  server tracebacks: {tracebacks}; {result['seconds']} s; {out}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
