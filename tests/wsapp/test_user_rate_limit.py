"""RATE_LIMIT_PER_USER: one allowance shared by all of a user's connections."""

from __future__ import annotations

import asyncio

import pytest

from tests.wsapp.helpers import FakeClock
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
    # The demo's JSON echo is a Consumer, which answers a dropped message with the error frame.
    first = await communicator("/ws/json-echo/", user=user)
    second = await communicator("/ws/json-echo/", user=user)
    for ws, n in ((first, 1), (second, 2), (first, 3)):
        await ws.send_json({"type": "echo", "n": n})
        assert await ws.receive_json() == {"type": "echo", "n": n}
    await second.send_json({"type": "echo", "n": 4})
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


# -- the shared bucket, unit by unit, on both stores --------------------------------------------


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    from wsapp import limits

    return FakeClock.install(monkeypatch, limits)


@pytest.mark.parametrize(
    ("spec", "period", "count", "burst"),
    [
        ("5/s burst 10", 1.0, 5, 10),
        ("60/m burst 60", 60.0, 60, 60),
        ("10/m", 60.0, 10, 10),
        ("6/h", 3600.0, 6, 6),
    ],
)
async def test_the_shared_bucket_keeps_the_rate_of_every_unit(
    ttl_store, clock, spec, period, count, burst
) -> None:
    from wsapp.limits import UserRateLimit

    limit = UserRateLimit(ttl_store, "7", spec, grace=1e9)
    interval = period / count  # one token back per interval

    async def sends(n: int) -> list[bool]:
        return [await limit.allow(0.0) for _ in range(n)]

    clock.at(0)
    assert await sends(burst + 1) == [True] * burst + [False]
    clock.at(0.5 * interval)
    assert await sends(1) == [False]  # half a token
    clock.at(1.5 * interval)
    assert await sends(2) == [True, False]  # one token back, not a new window's worth
    clock.at(1.5 * interval + (burst + 1) * interval)  # quiet long enough to refill fully
    assert await sends(burst + 1) == [True] * burst + [False]  # the burst, no more


async def test_every_connection_of_a_user_spends_from_one_bucket(ttl_store, clock) -> None:
    from wsapp.limits import UserRateLimit

    first, second = (UserRateLimit(ttl_store, "7", "10/m", grace=1e9) for _ in range(2))
    other_user = UserRateLimit(ttl_store, "8", "10/m", grace=1e9)
    clock.at(0)
    assert [await ws.allow(0.0) for ws in (first, second) * 5] == [True] * 10
    assert (await first.allow(0.0), await second.allow(0.0)) == (False, False)
    assert await other_user.allow(0.0) is True
