"""The dashboard and the metrics across two ``manage.py serve`` processes sharing a real Redis:
a dashboard on one process sees the sockets, rooms and joins of the other; each process's
``/wsapp/metrics`` counts its own sockets."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.cluster import CLUSTER_SETTINGS, session_cookie
from tests.support.timing import scaled

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

TIMEOUT = scaled(10.0)


@pytest.fixture
def two_processes(start_server: Any, redis_url: str, cluster_database_url: str) -> list[Any]:
    env = {"REDIS_URL": redis_url, "DATABASE_URL": cluster_database_url}
    return [
        start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp={"PRESENCE_TTL": 2.0})
        for _ in range(2)
    ]


async def open_socket(server: Any, path: str, cookie: str, **options: Any) -> ClientConnection:
    return await connect(
        server.url(path), additional_headers={"Cookie": cookie}, open_timeout=TIMEOUT, **options
    )


async def snapshot_where(
    ws: ClientConnection, test: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first ``dashboard.snapshot`` that passes ``test`` within ``TIMEOUT`` seconds."""
    deadline = time.monotonic() + TIMEOUT
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] == "dashboard.snapshot":
            last = frame
            if test(frame):
                return frame
    raise AssertionError(f"no matching snapshot within {TIMEOUT} s; the last: {last}")


def process_row(frame: dict[str, Any], server: Any) -> dict[str, Any]:
    (row,) = [p for p in frame["processes"] if p["process"].endswith(f":{server.pid}")]
    return row


def scrape(server: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.url("/wsapp/metrics", "http"), timeout=TIMEOUT) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_dashboard_on_one_process_sees_the_other(
    two_processes: list[Any], cluster_database_url: str
) -> None:
    a, b = two_processes
    admin = session_cookie(cluster_database_url, "admin")
    alice = session_cookie(cluster_database_url, "alice")
    dashboard = await open_socket(a, "/ws/dashboard/", admin)
    chat = await open_socket(b, "/ws/chat/lobby/", alice, subprotocols=["wsapp.v1"])
    try:
        frame = await snapshot_where(
            dashboard, lambda f: len(f["processes"]) == 2 and f["connections"] == 2
        )
        assert process_row(frame, a)["connections"] == 1  # the dashboard
        assert process_row(frame, b)["connections"] == 1  # alice's chat
        frame = await snapshot_where(dashboard, lambda f: f["users_online"] == 1)
        lobby = next(room for room in frame["rooms"] if room["slug"] == "lobby")
        assert (lobby["online"], lobby["users"], lobby["sockets"]) == (1, ["alice"], 1)
        assert [(e["kind"], e["user"], e["room"]) for e in frame["events"]][0] == (
            "join",
            "alice",
            "lobby",
        )

        metrics_b = await asyncio.to_thread(scrape, b)
        assert metrics_b[("wsapp_connections", ())] == 1.0
        assert metrics_b[("wsapp_room_online", (("room", "lobby"),))] == 1.0
        metrics_a = await asyncio.to_thread(scrape, a)
        assert metrics_a[("wsapp_connections", ())] == 1.0
        assert not [key for key in metrics_a if key[0] == "wsapp_room_online"]  # no local members

        await chat.close()
        frame = await snapshot_where(dashboard, lambda f: f["connections"] == 1)
        assert frame["closed"].get("1000") == 1
    finally:
        await dashboard.close()
        await chat.close()
