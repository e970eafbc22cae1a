"""The test suite's timing unit: ``scaled`` and ``wait_until``."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.timing import FACTOR, scaled, wait_until


def test_scaled_multiplies_by_the_factor() -> None:
    assert scaled(2.0) == 2.0 * FACTOR


async def test_wait_until_returns_once_a_plain_condition_holds() -> None:
    calls: list[int] = []

    def third_look() -> bool:
        calls.append(1)
        return len(calls) >= 3

    assert await wait_until(third_look, 5, "the third look") >= 0
    assert len(calls) == 3


async def test_wait_until_awaits_an_async_condition() -> None:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, done.set)

    async def is_set() -> bool:
        return done.is_set()

    assert await wait_until(is_set, 5, "the event") >= 0


async def test_wait_until_fails_at_the_deadline_with_what_and_the_detail() -> None:
    with pytest.raises(AssertionError) as info:
        await wait_until(lambda: False, 0.1, "the impossible", detail=lambda: "server said no")
    assert str(info.value) == f"not within {scaled(0.1)} s: the impossible\nserver said no"
