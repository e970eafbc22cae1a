"""The live dashboard's socket, ``/ws/dashboard/``: staff only, one snapshot a second.

Every process's hub publishes its counters each second (``cluster_stats()``); this module folds
them into one ``dashboard.snapshot`` frame: connections now (total and per process), messages in
and out per second (rates from consecutive reports of each process), rooms by users online (from
presence), recent joins and leaves merged across processes, closes by code and refusals.

One :class:`Sampler` per event loop serves every dashboard open on it: N dashboards cost one
``cluster_stats()``, one presence lookup per active room (at most :data:`MAX_ROOM_LOOKUPS`) and
one JSON encode per second, not N of each. It runs only while a dashboard is open, and keeps the
last :data:`SERIES_SECONDS` of points so a newly opened chart is drawn at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import weakref
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async

from wsapp import Consumer, WebSocket, jsoncodec, metrics
from wsapp.exceptions import InvalidStateError, PermissionDenied, WebSocketDisconnect
from wsapp.metrics.cluster import cluster_stats, ensure_reporting, local_stats
from wsapp.models import Room
from wsapp.rooms import aonline

logger = logging.getLogger("consumers.dashboard")

#: Seconds between snapshots.
SAMPLE_INTERVAL = 1.0
#: Seconds of chart points a newly opened dashboard gets.
SERIES_SECONDS = 300
#: Joins and leaves per snapshot, newest first.
RECENT_EVENTS = 20
#: Rooms whose presence is read each second: the ones with the most sockets. Bounds the work.
MAX_ROOM_LOOKUPS = 50
#: Rooms listed per snapshot (busy ones first) and read from the database for their titles.
MAX_ROOMS = 50
#: Seconds between database reads of the room list: rooms change rarely, snapshots often.
ROOMS_REFRESH = 10.0
#: Online users listed per room (the count is exact; the names are a glance).
USERS_PER_ROOM = 8

RATE_KEYS = ("messages_in", "messages_out")


class RateMeter:
    """Messages per second of each process, from two consecutive reports of its counters.

    A report is compared with the previous *different* report of the same process (by its
    ``time``), so reading the same report twice keeps the last rate instead of showing 0.
    """

    def __init__(self) -> None:
        self._last: dict[str, dict[str, Any]] = {}
        self._rates: dict[str, dict[str, float]] = {}

    def update(self, stats: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
        """``{process: {"messages_in": per s, "messages_out": per s}}`` for these reports."""
        rates: dict[str, dict[str, float]] = {}
        last: dict[str, dict[str, Any]] = {}
        for report in stats:
            process = report["process"]
            previous = self._last.get(process)
            if previous is None:
                rate = dict.fromkeys(RATE_KEYS, 0.0)
            elif report["time"] > previous["time"]:
                elapsed = report["time"] - previous["time"]
                # Counters only grow; a drop means the counters were reset: no rate, not < 0.
                rate = {k: max(0.0, (report[k] - previous[k]) / elapsed) for k in RATE_KEYS}
            else:
                rate = self._rates.get(process, dict.fromkeys(RATE_KEYS, 0.0))
                report = previous
            rates[process] = rate
            last[process] = report
        self._last, self._rates = last, rates  # processes that stopped reporting are forgotten
        return rates


def merge_counts(stats: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    """Sum a ``{label: count}`` counter (``closed``, ``refused``) over processes."""
    total: collections.Counter[str] = collections.Counter()
    for report in stats:
        total.update(report.get(key) or {})
    return dict(sorted(total.items()))


def recent_events(stats: Iterable[dict[str, Any]], limit: int = RECENT_EVENTS) -> list[Any]:
    """Joins and leaves of every process, newest first."""
    events = [event for report in stats for event in report.get("events") or ()]
    events.sort(key=lambda event: event["ts"], reverse=True)
    return events[:limit]


def room_sockets(stats: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Sockets per room, summed over the processes' local members."""
    total: collections.Counter[str] = collections.Counter()
    for report in stats:
        total.update(report.get("rooms") or {})
    return dict(total)


def room_rows(
    titles: dict[str, dict[str, Any]], sockets: dict[str, int], online: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The rooms table: the database's rooms plus any room with users, busiest first."""
    rows = []
    for slug in set(titles) | {slug for slug, users in online.items() if users}:
        users = online.get(slug, [])
        meta = titles.get(slug, {"title": slug, "private": False})
        rows.append(
            {
                "slug": slug,
                "title": meta["title"],
                "private": meta["private"],
                "online": len(users),
                "users": users[:USERS_PER_ROOM],
                "sockets": sockets.get(slug, 0),
            }
        )
    rows.sort(key=lambda row: (-row["online"], -row["sockets"], row["slug"]))
    return rows[:MAX_ROOMS]


def build_snapshot(
    stats: list[dict[str, Any]],
    rates: dict[str, dict[str, float]],
    titles: dict[str, dict[str, Any]],
    online: dict[str, list[str]],
    now: float,
) -> dict[str, Any]:
    """One ``dashboard.snapshot`` frame from every process's report. Pure: no I/O."""
    processes = [
        {
            "process": report["process"],
            "connections": report["connections"],
            "messages_in": round(rates[report["process"]]["messages_in"], 2),
            "messages_out": round(rates[report["process"]]["messages_out"], 2),
            "accepted": report["accepted"],
            "rooms": len(report.get("rooms") or {}),
            "uptime": round(report["uptime"]),
            "channel_full": report.get("channel_full", 0),
        }
        for report in sorted(stats, key=lambda report: report["process"])
    ]
    connections = sum(p["connections"] for p in processes)
    rate_in = round(sum(r["messages_in"] for r in rates.values()), 2)
    rate_out = round(sum(r["messages_out"] for r in rates.values()), 2)
    return {
        "type": "dashboard.snapshot",
        "ts": now,
        "connections": connections,
        "users_online": len({user for users in online.values() for user in users}),
        "rates": {"messages_in": rate_in, "messages_out": rate_out},
        "totals": {
            key: sum(report[key] for report in stats)
            for key in ("accepted", "messages_in", "messages_out", "bytes_in", "bytes_out")
        },
        "processes": processes,
        "rooms": room_rows(titles, room_sockets(stats), online),
        "events": recent_events(stats),
        "closed": merge_counts(stats, "closed"),
        "refused": merge_counts(stats, "refused"),
        "point": {
            "ts": now,
            "connections": connections,
            "messages_in": rate_in,
            "messages_out": rate_out,
        },
    }


@database_sync_to_async
def load_room_titles() -> dict[str, dict[str, Any]]:
    rooms = Room.objects.active().order_by("slug").values("slug", "title", "is_private")
    return {
        room["slug"]: {"title": room["title"], "private": room["is_private"]}
        for room in rooms[:MAX_ROOMS]
    }


class Sampler:
    """Takes one snapshot a second for all the dashboards open on one event loop."""

    def __init__(self) -> None:
        self.subscribers: set[WebSocket] = set()
        self.series: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=int(SERIES_SECONDS / SAMPLE_INTERVAL)
        )
        self.meter = RateMeter()
        self.latest: str | None = None
        self.titles: dict[str, dict[str, Any]] = {}
        self.titles_read = 0.0
        self.task: asyncio.Task[None] | None = None

    async def subscribe(self, ws: WebSocket) -> None:
        """Send ``ws`` the chart so far and the latest snapshot; then one snapshot a second."""
        self.subscribers.add(ws)
        try:
            await ws.send_json(
                {"type": "dashboard.history", "points": list(self.series), "window": SERIES_SECONDS}
            )
            if self.latest is not None:
                await ws.send_text(self.latest)
        except BaseException:
            self.unsubscribe(ws)  # gone already: disconnect() will not run for it
            raise
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def unsubscribe(self, ws: WebSocket) -> None:
        """Stop sending to ``ws``; with no dashboard left, stop sampling."""
        self.subscribers.discard(ws)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None
            self.latest = None  # stale by the time the next dashboard opens

    async def sample(self) -> dict[str, Any]:
        """One snapshot: every process's report (this one's read live), rates, presence."""
        reports = {report["process"]: report for report in await cluster_stats()}
        reports[metrics.PROCESS] = await local_stats()  # fresher than what it published last second
        stats = list(reports.values())
        now = time.time()
        if now - self.titles_read >= ROOMS_REFRESH:
            self.titles, self.titles_read = await load_room_titles(), now
        sockets = room_sockets(stats)
        busiest = sorted(sockets, key=lambda slug: (-sockets[slug], slug))[:MAX_ROOM_LOOKUPS]
        online = {slug: await aonline(slug) for slug in busiest}
        return build_snapshot(stats, self.meter.update(stats), self.titles, online, now)

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("The dashboard could not take a snapshot")
            else:
                self.series.append(frame["point"])
                self.latest = jsoncodec.dumps(frame)
                await self._send_all(self.latest)
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def _send_all(self, text: str) -> None:
        for ws in list(self.subscribers):
            with contextlib.suppress(WebSocketDisconnect, InvalidStateError, OSError):
                await ws.send_text(text)


_samplers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Sampler] = (
    weakref.WeakKeyDictionary()
)


def sampler() -> Sampler:
    """The running event loop's sampler."""
    loop = asyncio.get_running_loop()
    if loop not in _samplers:
        _samplers[loop] = Sampler()
    return _samplers[loop]


class DashboardConsumer(Consumer):
    """``/ws/dashboard/``: ``dashboard.history`` once, then ``dashboard.snapshot`` every second.

    Anonymous users are refused with 4401 (``login_required``), logged-in users who are not
    staff with 4403 "Staff only."; the dashboard shows room names and who is online.
    """

    login_required = True

    async def connect(self) -> None:
        if not self.scope["user"].is_staff:
            raise PermissionDenied("Staff only.")
        await ensure_reporting()  # even with no chat socket open on this process
        await self.ws.accept()
        await sampler().subscribe(self.ws)

    async def disconnect(self, code: int) -> None:
        sampler().unsubscribe(self.ws)
