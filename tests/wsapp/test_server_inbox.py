"""``wsapp.server.inbox.Inbox``: what Daphne's protocol and ``receive`` need of a queue."""

from __future__ import annotations

import asyncio

import pytest

from wsapp.server.inbox import Inbox


async def test_messages_come_out_in_order_and_are_counted() -> None:
    inbox = Inbox()
    for n in range(3):
        inbox.put_nowait(n)
    assert inbox.qsize() == 3
    assert [await inbox.get() for _ in range(3)] == [0, 1, 2]
    assert inbox.empty()


async def test_a_waiting_get_gets_the_next_message() -> None:
    inbox = Inbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("connect")
    assert await getter == "connect"
    assert inbox.empty()


async def test_get_nowait_on_an_empty_inbox_raises() -> None:
    with pytest.raises(asyncio.QueueEmpty):
        Inbox().get_nowait()


async def test_a_cancelled_get_leaves_the_message_to_the_next_reader() -> None:
    inbox = Inbox()
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("message")  # wakes the first reader...
    first.cancel()  # ...which is cancelled before it runs
    assert await second == "message"
    assert first.cancelled()


async def test_a_cancelled_waiting_get_is_forgotten() -> None:
    inbox = Inbox()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    getter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await getter
    inbox.put_nowait("later")
    assert inbox.get_nowait() == "later"
