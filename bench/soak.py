"""``python -m bench.soak [--minutes 20] [--connections 1000]``: does anything grow without bound?

The demo as production runs it (``DJANGO_DEBUG=0``, ``manage.py serve`` pinned to one core, its
own SQLite file; ``--redis`` adds a private ``redis-server``) holds ``--connections`` logged-in
chat sockets spread over ``--rooms`` rooms. Each socket posts a message every ``--interval``
seconds (jittered) and reads everything; every second ``--churn`` sockets close and reconnect
with ``?since=`` their last id, as wsapp.js does. Every ``--sample`` seconds the server's RSS,
open descriptors and asyncio tasks (``wsapp_asyncio_tasks`` from ``/wsapp/metrics``) are read.

The report is the least-squares slope of each over the run after a warm-up (the first fifth),
per minute, and the values after every client has gone: a leak shows as a slope that does not
fall to noise and as descriptors or tasks that stay up after the clients leave. Only 127.0.0.1
is dialled; the run stops by itself after ``--minutes``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from bench import procs, runner
from bench.client import check_local

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
CONNECTIONS_PER_USER = 4  # under any sane MAX_CONNECTIONS_PER_USER

_SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from wsapp.models import Room
call_command("migrate", interactive=False, verbosity=0)
users, rooms = {users}, {rooms}
for r in range(rooms):
    Room.objects.get_or_create(slug=f"soak-{{r}}", defaults={{"title": f"Soak {{r}}"}})
keys = []
for u in range(users):
    user, _ = get_user_model().objects.get_or_create(username=f"soak-{{u}}")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys.append(session.session_key)
print(json.dumps(keys))
"""


@dataclass
class Tally:
    """What the clients saw, for the report (a soak that lost its traffic proves nothing)."""

    sent: int = 0
    acked: int = 0
    delivered: int = 0
    reconnects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)


@dataclass
class Sample:
    t: float
    rss_kib: int
    fds: int
    tasks: int
    connections: int


class Soak:
    """The client side: sockets that chat, churn, and remember their last id."""

    def __init__(self, args: argparse.Namespace, port: int, sessions: list[str]) -> None:
        self.args = args
        self.port = port
        self.sessions = sessions
        self.tally = Tally()
        self.last_id: dict[int, int] = {}
        self.sockets: dict[int, ClientConnection] = {}
        self.stopping = False

    def url(self, index: int) -> str:
        room = index % self.args.rooms
        since = self.last_id.get(index)
        query = f"?since={since}" if since is not None else ""
        return f"ws://127.0.0.1:{self.port}/ws/chat/soak-{room}/{query}"

    async def open(self, index: int) -> ClientConnection:
        session = self.sessions[index // CONNECTIONS_PER_USER]
        ws = await connect(
            check_local(self.url(index)),
            additional_headers={
                "Cookie": f"sessionid={session}",
                "Origin": f"http://127.0.0.1:{self.port}",
            },
            compression=None,
            max_size=None,
            open_timeout=30,
            close_timeout=5,
        )
        self.sockets[index] = ws
        return ws

    async def socket_life(self, index: int) -> None:
        """One client slot for the whole run: connect, chat, and reconnect after each churn."""
        while not self.stopping:
            try:
                ws = await self.open(index)
            except (OSError, TimeoutError, WebSocketException) as exc:
                # A refused or dropped handshake (InvalidStatus, InvalidMessage) is a reconnect
                # like any other: the slot keeps trying, as wsapp.js would.
                self.tally.errors[f"connect: {type(exc).__name__}"] += 1
                await asyncio.sleep(1)
                continue
            chat = asyncio.create_task(self.chat(index, ws))
            try:
                async for raw in ws:
                    self.read(index, raw)
            except ConnectionClosed:
                pass
            finally:
                chat.cancel()
            code = ws.close_code
            self.tally.closes[str(code)] += 1
            self.sockets.pop(index, None)
            if not self.stopping:
                self.tally.reconnects += 1

    def read(self, index: int, raw: str | bytes) -> None:
        frame = json.loads(raw)
        kind = frame.get("type")
        if kind == "chat.message":
            self.tally.delivered += 1
            self.last_id[index] = max(self.last_id.get(index, 0), int(frame["id"]))
        elif kind == "history":
            for message in frame["messages"]:
                self.last_id[index] = max(self.last_id.get(index, 0), int(message["id"]))
        elif kind == "chat.ack":
            self.tally.acked += 1
        elif kind == "error":
            self.tally.errors[f"frame: {frame.get('code')}"] += 1

    async def chat(self, index: int, ws: ClientConnection) -> None:
        rng = random.Random(index)
        while True:
            await asyncio.sleep(self.args.interval * rng.uniform(0.5, 1.5))
            message = {
                "type": "chat.message",
                "body": f"soak {index}",
                "client_id": str(uuid.uuid4()),
            }
            await ws.send(json.dumps(message))
            self.tally.sent += 1

    async def churn(self) -> None:
        rng = random.Random(0)
        while not self.stopping:
            await asyncio.sleep(1)
            for index in rng.sample(sorted(self.sockets), min(self.args.churn, len(self.sockets))):
                ws = self.sockets.get(index)
                if ws is not None:
                    await ws.close()


def scrape_tasks(port: int) -> tuple[int, int]:
    """``(wsapp_asyncio_tasks, wsapp_connections)`` from the server's own metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/wsapp/metrics", timeout=10) as response:
        text = response.read().decode()
    tasks = re.search(r"^wsapp_asyncio_tasks (\S+)$", text, re.M)
    conns = re.search(r"^wsapp_connections (\S+)$", text, re.M)
    return int(float(tasks.group(1))) if tasks else -1, int(float(conns.group(1))) if conns else -1


def sample(server: procs.Server, port: int, started: float) -> Sample:
    pids = procs.tree(server.pid)
    fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids if os.path.exists(f"/proc/{pid}"))
    tasks, connections = scrape_tasks(port)
    return Sample(
        t=round(time.monotonic() - started, 1),
        rss_kib=procs.rss_bytes(pids) // 1024,
        fds=fds,
        tasks=tasks,
        connections=connections,
    )


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


async def drive(
    args: argparse.Namespace, server: procs.Server, port: int, sessions: list[str]
) -> tuple[Tally, list[Sample], Sample]:
    soak = Soak(args, port, sessions)
    samples: list[Sample] = []
    started = time.monotonic()
    lives = [asyncio.create_task(soak.socket_life(i)) for i in range(args.connections)]
    churn = asyncio.create_task(soak.churn())
    deadline = started + args.minutes * 60
    while time.monotonic() < deadline:
        await asyncio.sleep(min(args.sample, max(0.0, deadline - time.monotonic())))
        samples.append(await asyncio.to_thread(sample, server, port, started))
        last = samples[-1]
        print(
            f"  t={last.t:>6.0f}s rss={last.rss_kib / 1024:7.1f} MiB fds={last.fds:5d} "
            f"tasks={last.tasks:5d} conns={last.connections:5d} sent={soak.tally.sent} "
            f"delivered={soak.tally.delivered} reconnects={soak.tally.reconnects}",
            flush=True,
        )
    soak.stopping = True
    churn.cancel()
    await asyncio.gather(
        *(ws.close() for ws in list(soak.sockets.values())), return_exceptions=True
    )
    await asyncio.wait(lives, timeout=30)
    for life in lives:
        life.cancel()
    await asyncio.sleep(args.sample)  # let the server run its close handlers and cleanups
    after = await asyncio.to_thread(sample, server, port, started)
    return soak.tally, samples, after


def summarize(samples: list[Sample], after: Sample) -> dict[str, Any]:
    steady = samples[len(samples) // 5 :]
    return {
        "slope_per_minute": {
            key: round(slope_per_minute([(s.t, getattr(s, key)) for s in steady]), 2)
            for key in ("rss_kib", "fds", "tasks", "connections")
        },
        "first_steady": asdict(steady[0]) if steady else None,
        "last": asdict(samples[-1]) if samples else None,
        "after_clients_left": asdict(after),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between posts")
    parser.add_argument("--churn", type=int, default=5, help="sockets closed per second")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--redis", action="store_true", help="channel layer on a redis-server")
    parser.add_argument("--server-cpu", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 120 or not 0 < args.connections <= 20_000:
        parser.error("--minutes must be in (0, 120] and --connections in (0, 20000]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = RESULTS / f"soak-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    client_cpus = sorted(set(os.sched_getaffinity(0)) - {args.server_cpu}) or [args.server_cpu]
    os.sched_setaffinity(0, client_cpus)
    with ExitStack() as stack:
        redis_url = (
            stack.enter_context(runner.redis([args.server_cpu], workdir)) if args.redis else ""
        )
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "soak-" + uuid.uuid4().hex * 2,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "REDIS_URL": redis_url,
            "WSAPP_LOG_LEVEL": "WARNING",
        }
        users = -(-args.connections // CONNECTIONS_PER_USER)
        setup = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-startup", "-c"]
            + [_SETUP.format(users=users, rooms=args.rooms)],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if setup.returncode != 0:
            print(setup.stdout + setup.stderr, file=sys.stderr)
            return 1
        sessions = json.loads(setup.stdout.strip().splitlines()[-1])
        port = procs.free_port()
        argv_ = [sys.executable, "manage.py", "serve", "--port", str(port)]
        server = procs.start(
            "serve", argv_, cpus=[args.server_cpu], env=env, cwd=ROOT, log=workdir / "serve.log"
        )
        stack.callback(procs.stop, server)
        procs.wait_listening(server, port)
        print(
            f"soak: {args.connections} sockets, {args.rooms} rooms, {args.minutes} min → {workdir}"
        )
        tally, samples, after = asyncio.run(drive(args, server, port, sessions))
    log = (workdir / "serve.log").read_text(errors="replace")
    result = {
        "args": vars(args),
        "tally": {**asdict(tally), "errors": dict(tally.errors), "closes": dict(tally.closes)},
        "summary": summarize(samples, after),
        "tracebacks_in_server_log": log.count("Traceback"),
        "samples": [asdict(s) for s in samples],
    }
    (workdir / "soak.json").write_text(json.dumps(result, indent=2))
    print(
        json.dumps(
            {k: result[k] for k in ("tally", "summary", "tracebacks_in_server_log")}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
