"""The live dashboard over the in-process stack: who may open it, and that its numbers move."""

from __future__ import annotations

import time
from typing import Any

import pytest

from consumers import dashboard
from consumers.dashboard import RateMeter, build_snapshot
from wsapp import metrics
from wsapp.codes import CloseCode
from wsapp.models import Room

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/ws/dashboard/"


@pytest.fixture(autouse=True)
def fast_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "SAMPLE_INTERVAL", 0.05)
    metrics.reset()


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("admin", password="pw", is_staff=True)


@pytest.fixture
def rooms(db: Any) -> dict[str, Room]:
    return {
        slug: Room.objects.create(slug=slug, title=slug.title())
        for slug in ("lobby", "random", "quiet")
    }


async def snapshot_where(ws: Any, test: Any, limit: int = 60) -> dict[str, Any]:
    """The first snapshot that passes ``test``, within ``limit`` frames (a few seconds)."""
    for _ in range(limit):
        frame = await ws.receive_json()
        if frame["type"] == "dashboard.snapshot" and test(frame):
            return frame
    raise AssertionError(f"no snapshot passed the test within {limit} frames")


async def test_anonymous_is_refused_with_4401(communicator: Any) -> None:
    ws = await communicator(PATH)
    assert await ws.wait_closed() == (CloseCode.NOT_AUTHENTICATED, "Authentication required.")


async def test_a_user_who_is_not_staff_is_refused_with_4403(communicator: Any, user: Any) -> None:
    ws = await communicator(PATH, user=user)
    assert await ws.wait_closed() == (CloseCode.FORBIDDEN, "Staff only.")


async def test_staff_get_the_history_then_snapshots(communicator: Any, staff: Any) -> None:
    ws = await communicator(PATH, user=staff)
    history = await ws.receive_json()
    assert history == {"type": "dashboard.history", "points": [], "window": 300}
    frame = await ws.receive_json()
    assert frame["type"] == "dashboard.snapshot"
    assert frame["connections"] == 1  # the dashboard's own socket
    assert [p["process"] for p in frame["processes"]] == [metrics.PROCESS]
    assert frame["processes"][0]["connections"] == 1
    assert frame["point"] == {
        "ts": frame["ts"],
        "connections": 1,
        "messages_in": frame["rates"]["messages_in"],
        "messages_out": frame["rates"]["messages_out"],
    }


async def test_numbers_change_when_other_sockets_connect_and_join_rooms(
    communicator: Any, staff: Any, user: Any, rooms: dict[str, Room]
) -> None:
    ws = await communicator(PATH, user=staff)
    await snapshot_where(ws, lambda f: f["connections"] == 1)

    await communicator("/ws/echo/")
    await snapshot_where(ws, lambda f: f["connections"] == 2)

    chat = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    frame = await snapshot_where(ws, lambda f: f["connections"] == 3 and f["users_online"] == 1)
    lobby = frame["rooms"][0]
    assert lobby == {
        "slug": "lobby",
        "title": "Lobby",
        "private": False,
        "online": 1,
        "users": ["alice"],
        "sockets": 1,
    }
    assert [room["slug"] for room in frame["rooms"]] == ["lobby", "quiet", "random"]
    assert frame["events"][0]["kind"] == "join"
    assert (frame["events"][0]["user"], frame["events"][0]["room"]) == ("alice", "lobby")

    await chat.close()
    frame = await snapshot_where(ws, lambda f: f["connections"] == 2)
    assert [(e["kind"], e["user"]) for e in frame["events"][:2]] == [
        ("leave", "alice"),
        ("join", "alice"),
    ]
    assert frame["closed"] == {str(CloseCode.NORMAL_CLOSURE): 1}
    assert frame["rooms"][0]["online"] == 0


async def test_message_rates_rise_with_traffic(communicator: Any, staff: Any) -> None:
    ws = await communicator(PATH, user=staff)
    echo = await communicator("/ws/echo/")
    for _ in range(20):
        await echo.send_text("ping")
        assert await echo.receive_text() == "ping"
    frame = await snapshot_where(ws, lambda f: f["rates"]["messages_in"] > 0)
    assert frame["rates"]["messages_out"] > 0
    assert frame["totals"]["messages_in"] == 20


async def test_a_new_dashboard_gets_the_chart_so_far(communicator: Any, staff: Any) -> None:
    first = await communicator(PATH, user=staff)
    await first.receive_json()
    for _ in range(3):
        await snapshot_where(first, lambda f: True)
    second = await communicator(PATH, user=staff)
    history = await second.receive_json()
    assert history["type"] == "dashboard.history"
    assert len(history["points"]) >= 3
    assert history["points"] == sorted(history["points"], key=lambda p: p["ts"])


# -- the page ----------------------------------------------------------------------------------


def test_the_page_sends_anonymous_visitors_to_the_login(client: Any) -> None:
    response = client.get("/dashboard/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=/dashboard/",
    )


def test_the_page_refuses_users_who_are_not_staff_and_says_why(client: Any, user: Any) -> None:
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert b"Staff only. You are logged in as <strong>alice</strong>" in response.content
    assert b"dashboard.js" not in response.content  # nothing connects


def test_the_page_gives_staff_the_socket_path(client: Any, staff: Any) -> None:
    client.force_login(staff)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert b'data-ws-path="/ws/dashboard/"' in response.content
    assert b'<a href="/dashboard/" aria-current="page">Dashboard</a>' in response.content


# -- the pure parts: rates and aggregation across processes ----------------------------------


def report(process: str, at: float, **values: Any) -> dict[str, Any]:
    base = {
        "process": process,
        "time": at,
        "uptime": 10.0,
        "connections": 0,
        "accepted": 0,
        "closed": {},
        "refused": {},
        "messages_in": 0,
        "messages_out": 0,
        "bytes_in": 0,
        "bytes_out": 0,
        "rooms": {},
        "events": [],
    }
    return {**base, **values}


def test_rates_come_from_consecutive_reports_of_each_process() -> None:
    meter = RateMeter()
    assert meter.update([report("a", 100.0, messages_in=50)]) == {
        "a": {"messages_in": 0.0, "messages_out": 0.0}
    }
    rates = meter.update([report("a", 102.0, messages_in=70, messages_out=8)])
    assert rates == {"a": {"messages_in": 10.0, "messages_out": 4.0}}
    # The same report read again keeps its rate, instead of dropping to 0 for a second.
    assert meter.update([report("a", 102.0, messages_in=70, messages_out=8)]) == rates
    # Counters that went down were reset: no negative rate.
    assert meter.update([report("a", 103.0)]) == {"a": {"messages_in": 0.0, "messages_out": 0.0}}


def test_a_snapshot_sums_processes_and_merges_their_events_newest_first() -> None:
    join = {"ts": 5.0, "kind": "join", "user": "bob", "room": "lobby"}
    leave = {"ts": 7.0, "kind": "leave", "user": "eve", "room": "random"}
    stats = [
        report("b:2", 1.0, connections=3, closed={"1000": 2}, rooms={"lobby": 2}, events=[leave]),
        report("a:1", 1.0, connections=2, closed={"1000": 1, "4403": 1}, rooms={"lobby": 1},
               refused={"origin": 4}, events=[join], accepted=9),
    ]  # fmt: skip
    rates = {
        "a:1": {"messages_in": 1.5, "messages_out": 3.0},
        "b:2": {"messages_in": 0.5, "messages_out": 1.0},
    }
    titles = {"lobby": {"title": "Lobby", "private": False}}
    frame = build_snapshot(stats, rates, titles, {"lobby": ["alice", "bob"]}, now=time.time())
    assert frame["connections"] == 5
    assert frame["rates"] == {"messages_in": 2.0, "messages_out": 4.0}
    assert [(p["process"], p["connections"], p["messages_out"]) for p in frame["processes"]] == [
        ("a:1", 2, 3.0),
        ("b:2", 3, 1.0),
    ]
    assert frame["closed"] == {"1000": 3, "4403": 1}
    assert frame["refused"] == {"origin": 4}
    assert frame["events"] == [leave, join]
    assert frame["rooms"] == [
        {
            "slug": "lobby",
            "title": "Lobby",
            "private": False,
            "online": 2,
            "users": ["alice", "bob"],
            "sockets": 3,
        }
    ]
    assert frame["users_online"] == 2
    assert frame["totals"]["accepted"] == 9
