"""The Redis layer's batched read of a process channel, against a real redis-server.

A backlog waiting on the process channel comes off Redis in the round trip that backs up its
first message; every message still reaches its own local channel, in the order it was sent,
exactly once, and the in-flight backup is empty once the batch is handled.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from tests.support.timing import wait_until
from wsapp.layers import redis_connection
from wsapp.redis_layer import RECEIVE_BATCH, RedisChannelLayer

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("redis_layer")]


def _layer() -> RedisChannelLayer:
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    return layer


async def _backlog(layer: RedisChannelLayer, count: int) -> str:
    """A new channel of the layer's process with ``count`` notes waiting on it, numbered."""
    channel = await layer.new_channel()
    for n in range(count):
        await layer.send(channel, {"type": "note", "n": n})
    return channel


async def _blocked_reader(layer: RedisChannelLayer, channel: str) -> asyncio.Future[Any]:
    """A ``receive`` on ``channel``, returned once Redis has it blocked in ``BZPOPMIN``."""
    redis = redis_connection(layer, _keys(layer, channel)[0])

    async def blocked_clients() -> int:
        return int((await redis.info("clients"))["blocked_clients"])

    before = await blocked_clients()
    waiting = asyncio.ensure_future(layer.receive(channel))

    async def reader_blocked() -> bool:
        return await blocked_clients() > before

    await wait_until(reader_blocked, 5, "the reader blocked in BZPOPMIN")
    return waiting


def _keys(layer: RedisChannelLayer, channel: str) -> tuple[str, str]:
    real = layer.non_local_name(channel)
    key = layer.prefix + real
    return key, layer._backup_channel_name(key)  # noqa: SLF001 - channels_redis's naming


async def test_a_backlog_comes_off_redis_in_one_batch_in_order() -> None:
    layer = _layer()
    channel = await _backlog(layer, 20)
    key, backup = _keys(layer, channel)
    redis = redis_connection(layer, key)
    first = await layer.receive(channel)
    # The other 19 came with the first: nothing is left waiting on Redis.
    assert await redis.zcard(key) == 0
    rest = [await asyncio.wait_for(layer.receive(channel), 1) for _ in range(19)]
    assert [m["n"] for m in [first, *rest]] == list(range(20))
    # The batch stays backed up until the next read, whose round trip drops it.
    assert await redis.zcard(backup) == 20
    await layer.send(channel, {"type": "note", "n": 20})
    assert (await layer.receive(channel))["n"] == 20
    assert await redis.zcard(backup) == 1


async def test_a_batch_reaches_each_local_channel_in_order() -> None:
    """One process channel carries every local channel's messages: a batch that mixes them
    hands each its own, behind the one it was fetched for, none twice."""
    layer = _layer()
    a, b = await layer.new_channel(), await layer.new_channel()
    sent: list[tuple[str, int]] = [(a if n % 3 else b, n) for n in range(30)]
    for channel, n in sent:
        await layer.send(channel, {"type": "note", "n": n})
    got: dict[str, list[int]] = {a: [], b: []}

    async def read(channel: str, count: int) -> None:
        for _ in range(count):
            got[channel].append((await layer.receive(channel))["n"])

    expected = {c: [n for ch, n in sent if ch == c] for c in (a, b)}
    await asyncio.wait_for(asyncio.gather(read(a, len(expected[a])), read(b, len(expected[b]))), 5)
    assert got == expected


async def test_a_backlog_larger_than_a_batch_is_read_whole() -> None:
    layer = _layer()
    channel = await layer.new_channel()
    total = RECEIVE_BATCH * 2 + 5
    for n in range(total):
        await layer.send(channel, {"type": "note", "n": n})
    got = [(await asyncio.wait_for(layer.receive(channel), 1))["n"] for _ in range(total)]
    assert got == list(range(total))


async def test_messages_a_lost_reply_left_in_the_backup_come_back_first() -> None:
    """A read interrupted after Redis popped its batch (the reply lost to a cancellation or a
    dropped connection) leaves the batch in the backup: the next read puts it back in front."""
    layer = _layer()
    channel = await _backlog(layer, 3)
    key, backup = _keys(layer, channel)
    redis = redis_connection(layer, key)
    popped = await redis.zpopmin(key, 3)  # what TAKE_MORE did for a reader that never heard back
    await redis.zadd(backup, dict(popped))
    waiting = await _blocked_reader(layer, channel)
    waiting.cancel()  # the interruption: the reader now knows its backup may hold messages
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await layer.send(channel, {"type": "note", "n": 3})
    got = [(await asyncio.wait_for(layer.receive(channel), 2))["n"] for _ in range(4)]
    assert got == [0, 1, 2, 3]


async def test_a_reader_cancelled_while_waiting_loses_nothing() -> None:
    layer = _layer()
    channel = await layer.new_channel()
    waiting = await _blocked_reader(layer, channel)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for n in range(5):
        await layer.send(channel, {"type": "note", "n": n})
    got: list[Any] = [(await asyncio.wait_for(layer.receive(channel), 2))["n"] for _ in range(5)]
    assert got == list(range(5))


async def test_a_group_message_for_several_local_channels_reaches_each_once() -> None:
    """channels_redis packs a group_send for many channels of one process into one message
    naming them all; in a batch it still reaches every one of them."""
    layer = _layer()
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", a)
    await layer.group_add("g", b)
    for n in range(4):
        await layer.group_send("g", {"type": "note", "n": n})
    got = {
        c: [(await asyncio.wait_for(layer.receive(c), 2))["n"] for _ in range(4)] for c in (a, b)
    }
    assert got == {a: [0, 1, 2, 3], b: [0, 1, 2, 3]}


async def test_receive_batch_zero_reads_one_message_at_a_time(redis_layer: str) -> None:
    """The batch is the layer's own: a subclass with ``receive_batch = 0`` leaves the backlog
    on Redis, as channels_redis does."""

    class OneAtATime(RedisChannelLayer):  # type: ignore[misc]
        receive_batch = 0

    layer = OneAtATime(hosts=[{"address": redis_layer}])
    channel = await _backlog(layer, 5)
    key, _ = _keys(layer, channel)
    assert (await layer.receive(channel))["n"] == 0
    assert await redis_connection(layer, key).zcard(key) == 4
    assert [(await layer.receive(channel))["n"] for _ in range(4)] == [1, 2, 3, 4]
    await layer.flush()
    await layer.close_pools()
