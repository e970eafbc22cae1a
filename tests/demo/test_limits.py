"""The demo's production-safe limits (``config.settings.DEMO_LIMITS``), on the demo chat."""

from __future__ import annotations

from typing import Any

import pytest

from config import settings as demo_settings
from tests.wsapp.helpers import FakeClock
from wsapp import connection, limits
from wsapp.codes import CloseCode
from wsapp.limits import RATE_LIMITED_FRAME
from wsapp.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_limits(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's own ``WSAPP``, with both limiters' clocks stopped: a flood then meets exactly
    the bursts, however long the machine takes to send it."""
    settings.WSAPP = demo_settings.WSAPP
    monkeypatch.setattr(connection, "_now", lambda: 1000.0)
    FakeClock.install(monkeypatch, limits)


def test_the_demo_ships_its_limits() -> None:
    assert demo_settings.DEMO_LIMITS == {
        "RATE_LIMIT": "10/s burst 20",
        "RATE_LIMIT_PER_USER": "10/s burst 30",
        "MAX_CONNECTIONS_PER_USER": 10,
    }
    assert demo_settings.WSAPP == {"ROUTING": "config.routing", **demo_settings.DEMO_LIMITS}


async def flood(ws: Any, tab: int, count: int) -> tuple[int, int]:
    """Send ``count`` chat messages at once; return how many were acked and how many dropped."""
    for i in range(count):
        await ws.send_json({"type": "chat.message", "body": "spam", "client_id": f"{tab}-{i}"})
    acked = dropped = 0
    while acked + dropped < count:
        frame = await ws.receive()
        if frame["text"] == RATE_LIMITED_FRAME:
            dropped += 1
        elif '"chat.ack"' in frame["text"]:
            acked += 1
    return acked, dropped


async def test_a_flood_from_one_user_stores_only_the_bursts(
    demo_limits, communicator, user
) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby")
    tabs = []
    for _ in range(2):
        tabs.append(await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"]))
        await tabs[-1].receive_json(), await tabs[-1].receive_json()  # history, presence
    # The first tab meets its own burst (20); the second, the rest of the user's (30 - 20).
    assert await flood(tabs[0], 0, 100) == (20, 80)
    assert await flood(tabs[1], 1, 100) == (10, 90)
    assert await Message.objects.acount() == 30


async def test_the_eleventh_socket_of_a_user_is_refused_with_4409(
    demo_limits, communicator, user
) -> None:
    sockets = [await communicator("/ws/echo/", user=user) for _ in range(11)]
    assert await sockets[-1].wait_closed() == (
        CloseCode.TOO_MANY_CONNECTIONS,
        "At most 10 connections per user; close one and retry.",
    )
    await sockets[0].send_text("still open")
    assert await sockets[0].receive_text() == "still open"
