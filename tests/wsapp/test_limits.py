"""Rate limits: the token bucket, the grace policy, and the hook in ``WebSocket.receive()``."""

from __future__ import annotations

import asyncio
import json

import pytest

from consumers.echo import echo, json_echo
from tests.support.timing import wait_until
from wsapp import connection
from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.exceptions import BadRequest, MessageTooBig, RateLimited
from wsapp.limits import (
    RATE_LIMITED_FRAME,
    ConnectionLimits,
    RateLimiter,
    TokenBucket,
    UserRateLimit,
    connection_limiter,
    measure,
)
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient

RATE_LIMITED = {
    "type": "error",
    "code": "rate_limited",
    "message": "Rate limit exceeded; message dropped.",
}

# -- the bucket ---------------------------------------------------------------------------------


def test_a_full_bucket_allows_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, burst=3)
    assert [bucket.allow(100.0) for _ in range(4)] == [True, True, True, False]


def test_the_bucket_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=1)
    assert bucket.allow(0.0) is True
    assert bucket.allow(0.05) is False  # half a token
    assert bucket.allow(0.1) is True
    assert bucket.allow(0.1) is False


def test_the_bucket_saves_up_no_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2)
    bucket.allow(0.0)
    assert [bucket.allow(3600.0) for _ in range(3)] == [True, True, False]


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.allow(10.0) is True
    assert bucket.allow(5.0) is False
    assert bucket.allow(10.5) is False
    assert bucket.allow(11.0) is True


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 1), (1, 0.5)])
def test_a_bucket_needs_a_positive_rate_and_a_whole_token(rate, burst) -> None:
    with pytest.raises(ValueError, match="needs rate > 0 and burst >= 1"):
        TokenBucket(rate, burst)


# -- the grace ----------------------------------------------------------------------------------


def test_a_drop_within_the_grace_is_only_a_drop() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, grace=2.0)
    assert limiter.allow(0.0) is True
    assert [limiter.allow(t) for t in (0.1, 0.5, 0.9)] == [False, False, False]


def test_excess_past_the_grace_raises_4429() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, grace=2.0)
    limiter.allow(0.0)
    for t in (0.1, 0.6, 1.1, 1.6):  # one token refills each second: excess never stops
        limiter.allow(t)
    with pytest.raises(RateLimited) as excinfo:
        for t in (2.05, 2.1, 2.15):
            limiter.allow(t)
    assert excinfo.value.code == CloseCode.RATE_LIMITED
    assert excinfo.value.reason == "Rate limit exceeded for over 2 s."


def test_refills_during_a_flood_do_not_reset_the_grace() -> None:
    limiter = RateLimiter(rate=10.0, burst=1, grace=1.0)
    allowed = 0
    with pytest.raises(RateLimited):
        for step in range(1000):  # 100 frames a second against 10 a second
            allowed += limiter.allow(step / 100)
    assert 9 <= allowed <= 12  # the burst, then about a tenth, until the grace ran out


def test_a_quiet_spell_as_long_as_the_grace_forgives() -> None:
    limiter = RateLimiter(rate=0.1, burst=1, grace=2.0)
    limiter.allow(0.0)
    assert limiter.allow(0.5) is False  # excess from 0.5
    assert limiter.allow(3.0) is False  # 2.5 s without a drop: a new excess starts here
    assert limiter.allow(4.9) is False
    with pytest.raises(RateLimited):
        limiter.allow(5.05)  # 2.05 s into the new excess


# -- configuration ------------------------------------------------------------------------------


def test_no_limiter_when_the_limit_is_off() -> None:
    assert connection_limiter({"RATE_LIMIT": None, "RATE_LIMIT_GRACE": 2.0}) is None


def test_the_limiter_follows_the_settings() -> None:
    limiter = connection_limiter({"RATE_LIMIT": "20/m burst 5", "RATE_LIMIT_GRACE": 0.5})
    assert limiter is not None
    assert (limiter.bucket.rate, limiter.bucket.burst, limiter.excess.grace) == (20 / 60, 5.0, 0.5)


def test_every_connection_gets_its_own_limiter(settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "RATE_LIMIT": "5/s"}
    scope = {"type": "websocket", "path": "/"}
    a, b = WebSocket(scope, None, None), WebSocket(scope, None, None)  # type: ignore[arg-type]
    assert a.limits.rate is not None and b.limits.rate is not None
    assert a.limits.rate is not b.limits.rate


def test_the_error_frame_is_the_wire_protocols() -> None:
    assert json.loads(RATE_LIMITED_FRAME) == RATE_LIMITED


# -- in a connection, for both handler styles ---------------------------------------------------


@pytest.fixture
def limited(settings) -> AsyncWebSocketClient:
    """3 frames, then nothing for an hour; 0.3 s of grace."""
    settings.WSAPP = {**settings.WSAPP, "RATE_LIMIT": "1/h burst 3", "RATE_LIMIT_GRACE": 0.3}
    assert get_settings()["RATE_LIMIT"] == "1/h burst 3"
    return AsyncWebSocketClient(Router([path("echo/", echo), path("json/", json_echo)]))


async def test_a_plain_handlers_frames_over_the_limit_are_dropped_unanswered(
    limited, monkeypatch
) -> None:
    """A plain handler's protocol is its own: no JSON error frame is injected into it."""
    clock = [1000.0]
    monkeypatch.setattr(connection, "_now", lambda: clock[0])
    async with limited.websocket_connect("/echo/") as ws:
        for n in range(5):
            await ws.send_text(str(n))
        assert [await ws.receive_text() for _ in range(3)] == ["0", "1", "2"]
        clock[0] += 7200  # the bucket refills: the next frame passes
        await ws.send_text("hours later")
        assert await ws.receive_text() == "hours later"  # the two drops were answered by nothing


async def test_a_consumer_is_limited_by_the_same_hook(limited) -> None:
    async with limited.websocket_connect("/json/") as ws:
        for n in range(4):
            await ws.send_json({"type": "echo", "n": n})
        replies = [await ws.receive_json() for _ in range(4)]
        assert replies == [{"type": "echo", "n": n} for n in range(3)] + [RATE_LIMITED]


@pytest.mark.parametrize("route", ["/echo/", "/json/"])
async def test_still_over_the_limit_after_the_grace_closes_4429(limited, monkeypatch, route):
    clock = [1000.0]
    monkeypatch.setattr(connection, "_now", lambda: clock[0])
    ws = await limited.websocket_connect(route).connect()
    notices = [RATE_LIMITED] if route == "/json/" else []  # a plain handler is sent none
    for _ in range(4):
        await ws.send_json({"type": "echo"})
    replies = [await ws.receive_json() for _ in range(3 + len(notices))]
    assert replies == [{"type": "echo"}] * 3 + notices
    clock[0] += 0.25
    await ws.send_json({"type": "echo"})
    if notices:
        assert await ws.receive_json() == RATE_LIMITED  # 0.25 s into the excess: dropped
    assert await ws.receive_nothing()
    clock[0] += 0.1
    await ws.send_json({"type": "echo"})  # 0.35 s: closed
    assert await ws.wait_closed() == (CloseCode.RATE_LIMITED, "Rate limit exceeded for over 0.3 s.")


async def test_one_connection_over_the_limit_leaves_another_alone(limited) -> None:
    async with (
        limited.websocket_connect("/echo/") as flooder,
        limited.websocket_connect("/echo/") as other,
    ):
        for _ in range(10):
            await flooder.send_text("x")
        await other.send_text("still here")
        assert await other.receive_text() == "still here"


# -- ConnectionLimits ---------------------------------------------------------------------------


def test_connection_limits_follow_the_settings() -> None:
    limits = ConnectionLimits.from_settings(
        {
            "MAX_MESSAGE_SIZE": 10,
            "IDLE_TIMEOUT": 5.0,
            "RATE_LIMIT": "2/s",
            "RATE_LIMIT_GRACE": 1,
            "MAX_INVALID_FRAMES": 3,
        }
    )
    assert (limits.max_size, limits.idle_timeout, limits.user_rate) == (10, 5.0, None)
    assert (limits.max_refused, limits.refused_in_a_row, limits.drop_notice) == (3, 0, None)
    assert limits.rate is not None and (limits.rate.bucket.rate, limits.rate.bucket.burst) == (
        2.0,
        2.0,
    )


def test_connection_limits_that_are_off_admit_everything() -> None:
    limits = ConnectionLimits()
    assert [limits.admit(10**9, float(n)) for n in range(3)] == [True] * 3


def test_connection_limits_refuse_a_message_over_the_size_with_1009() -> None:
    limits = ConnectionLimits(max_size=8)
    assert limits.admit(8, 0.0)
    with pytest.raises(MessageTooBig) as info:
        limits.admit(9, 0.0)
    assert (info.value.code, info.value.reason) == (
        CloseCode.MESSAGE_TOO_BIG,
        "Message of 9 bytes is over the limit of 8.",
    )


def test_connection_limits_drop_what_is_over_the_rate() -> None:
    limits = ConnectionLimits(rate=RateLimiter(1, 2, grace=10))
    assert [limits.admit(1, 0.0) for _ in range(3)] == [True, True, False]


def test_a_users_shared_rate_is_attached_to_the_connections_limits() -> None:
    limits = ConnectionLimits()
    shared = UserRateLimit(None, "7", "5/s", 2.0)
    limits.share_user_rate(shared)
    assert limits.user_rate is shared


async def test_the_idle_deadline_sleeps_what_remains_after_a_late_frame() -> None:
    idle = [0.0]
    expired: list[float] = []

    async def expire() -> None:
        expired.append(idle[0])

    limits = ConnectionLimits(idle_timeout=0.05)
    limits.watch_idle(lambda: idle[0], expire)
    idle[0] = 0.02  # a frame came 0.03 s into the timeout: 0.02 s idle when the timer fires
    await asyncio.sleep(0.08)
    assert expired == []
    idle[0] = 0.05
    await wait_until(lambda: expired, 1.0, "the idle deadline fired")
    assert expired == [0.05]


async def test_a_stopped_idle_deadline_never_fires() -> None:
    expired: list[bool] = []

    async def expire() -> None:
        expired.append(True)

    limits = ConnectionLimits(idle_timeout=0.01)
    limits.watch_idle(lambda: 1.0, expire)
    limits.stop()
    await asyncio.sleep(0.03)
    assert (expired, limits.idle) == ([], None)


# -- refused frames in a row, and sizing a frame that is not UTF-8 -------------------------------


def test_refused_frames_in_a_row_meet_max_refused_with_4400() -> None:
    limits = ConnectionLimits(max_refused=2)
    limits.refused_in_a_row = 1
    limits.check_refused()  # one below the limit: read on
    limits.refused_in_a_row = 2
    with pytest.raises(BadRequest) as info:
        limits.check_refused()
    assert (info.value.code, info.value.reason) == (
        CloseCode.BAD_REQUEST,
        "2 malformed messages in a row.",
    )


def test_without_max_refused_any_number_is_read_on() -> None:
    limits = ConnectionLimits()
    limits.refused_in_a_row = 10**6
    limits.check_refused()


def test_measure_sizes_text_that_is_not_utf8_and_says_why() -> None:
    assert measure({"text": "é"}) == (2, None)
    assert measure({"bytes": b"abc"}) == (3, None)
    size, error = measure({"text": "a\ud800"})
    assert size == 4 and isinstance(error, UnicodeEncodeError)  # a surrogate is three bytes
