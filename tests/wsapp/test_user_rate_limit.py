"""RATE_LIMIT_PER_USER: one allowance shared by all of a user's connections."""

from __future__ import annotations

import asyncio

import pytest

from wsapp.codes import CloseCode
from wsapp.limits import RATE_LIMITED_FRAME

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def per_user(settings):
    settings.WSAPP = {
        **settings.WSAPP,
        "RATE_LIMIT_PER_USER": "1/m burst 3",
        "RATE_LIMIT_GRACE": 60.0,
    }


async def test_the_allowance_is_shared_between_a_users_connections(
    communicator, user, per_user
) -> None:
    first = await communicator("/ws/echo/", user=user)
    second = await communicator("/ws/echo/", user=user)
    for ws, text in ((first, "1"), (second, "2"), (first, "3")):
        await ws.send_text(text)
        assert await ws.receive_text() == text
    await second.send_text("4")
    assert await second.receive_text() == RATE_LIMITED_FRAME
    assert await second.receive_nothing()


async def test_anonymous_connections_are_not_counted_per_user(communicator, per_user) -> None:
    ws = await communicator("/ws/echo/")
    for i in range(5):
        await ws.send_text(str(i))
        assert await ws.receive_text() == str(i)


async def test_lasting_excess_closes_with_4429(communicator, user, settings) -> None:
    settings.WSAPP = {
        **settings.WSAPP,
        "RATE_LIMIT_PER_USER": "1/m burst 1",
        "RATE_LIMIT_GRACE": 0.3,
    }
    ws = await communicator("/ws/echo/", user=user)
    await ws.send_text("ok")
    assert await ws.receive_text() == "ok"
    for _ in range(100):  # a steady flood: drops with no pause as long as the grace
        await ws.send_text("flood")
        await asyncio.sleep(0.02)
        if ws.close_code is not None or not await ws.receive_nothing(0):
            break
    code, reason = await ws.wait_closed()
    assert code == CloseCode.RATE_LIMITED
    assert reason == "Rate limit exceeded for over 0.3 s."
