"""Expiring sets shared by every process: who is in a room, how many sockets a user has.

Each process writes its own entries with a deadline and refreshes them while they live, so a
process that crashes stops refreshing and its entries fall out within one TTL — no cleanup
needed from the dead. With the in-memory layer (one process) the sets are a dict; with Redis
they are sorted sets scored by deadline, on the shard channels_redis would pick for the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from wsapp.layers import is_in_memory, redis_connection

KEY_PREFIX = "wsapp:"
# Bounds concurrent Redis calls from one process: 300 sockets closing at once must queue, not
# exhaust the pool the channel layer shares with us.
MAX_CONCURRENT_CALLS = 32


class TTLStore(Protocol):
    async def add(self, key: str, member: str, ttl: float) -> None: ...
    async def remove(self, key: str, member: str) -> bool: ...
    async def members(self, key: str) -> list[str]: ...
    async def refresh(self, entries: Iterable[tuple[str, str]], ttl: float) -> None: ...
    async def expire(self, key: str) -> list[str]: ...
    async def incr(self, key: str, ttl: float) -> int: ...
    async def put(self, key: str, value: str, ttl: float) -> None: ...
    async def get_many(self, keys: list[str]) -> list[str | None]: ...


class MemoryStore:
    """One process's sets: ``{key: {member: deadline}}``."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, float]] = {}
        self.counters: dict[str, tuple[int, float]] = {}
        self.values: dict[str, tuple[str, float]] = {}

    async def add(self, key: str, member: str, ttl: float) -> None:
        self.sets.setdefault(key, {})[member] = time.time() + ttl

    async def remove(self, key: str, member: str) -> bool:
        entries = self.sets.get(key)
        if entries is None or entries.pop(member, None) is None:
            return False
        if not entries:
            del self.sets[key]
        return True

    async def members(self, key: str) -> list[str]:
        now = time.time()
        return [m for m, deadline in self.sets.get(key, {}).items() if deadline > now]

    async def refresh(self, entries: Iterable[tuple[str, str]], ttl: float) -> None:
        deadline = time.time() + ttl
        for key, member in entries:
            self.sets.setdefault(key, {})[member] = deadline

    async def put(self, key: str, value: str, ttl: float) -> None:
        self.values[key] = (value, time.time() + ttl)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        now = time.time()
        found = (self.values.get(key) for key in keys)
        return [entry[0] if entry and entry[1] > now else None for entry in found]

    async def incr(self, key: str, ttl: float) -> int:
        """Count up under ``key``; the count starts over once it is ``ttl`` seconds old."""
        now = time.time()
        count, deadline = self.counters.get(key, (0, 0.0))
        if deadline <= now:
            count, deadline = 0, now + ttl
        self.counters[key] = (count + 1, deadline)
        if len(self.counters) > 10_000:  # drop dead windows now and then
            self.counters = {k: v for k, v in self.counters.items() if v[1] > now}
        return count + 1

    async def expire(self, key: str) -> list[str]:
        now = time.time()
        entries = self.sets.get(key, {})
        gone = [m for m, deadline in entries.items() if deadline <= now]
        for member in gone:
            del entries[member]
        return gone


class RedisStore:
    """The same sets as Redis sorted sets (score = deadline), through the layer's pools."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        # Deferred: redis-py is the optional ``redis`` extra, needed only once Redis is in use.
        from wsapp.redis_layer import translated_errors

        self.layer = layer
        self._calls = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
        self._translated = translated_errors

    def _redis(self, key: str) -> Any:
        return redis_connection(self.layer, key)

    @contextlib.asynccontextmanager
    async def _call(self, action: str) -> AsyncIterator[None]:
        """One bounded Redis call; a Redis that went away raises ``LayerUnavailable``."""
        async with self._calls:
            with self._translated(action):
                yield

    async def add(self, key: str, member: str, ttl: float) -> None:
        deadline = time.time() + ttl
        async with self._call("add"):
            redis = self._redis(key)
            async with redis.pipeline(transaction=False) as pipe:
                pipe.zadd(KEY_PREFIX + key, {member: deadline})
                pipe.expire(KEY_PREFIX + key, int(ttl) + 60)
                await pipe.execute()

    async def remove(self, key: str, member: str) -> bool:
        async with self._call("remove"):
            return bool(await self._redis(key).zrem(KEY_PREFIX + key, member))

    async def members(self, key: str) -> list[str]:
        async with self._call("members"):
            raw = await self._redis(key).zrangebyscore(KEY_PREFIX + key, time.time(), "+inf")
        return [m.decode() if isinstance(m, bytes) else m for m in raw]

    async def refresh(self, entries: Iterable[tuple[str, str]], ttl: float) -> None:
        deadline = time.time() + ttl
        by_key: dict[str, dict[str, float]] = {}
        for key, member in entries:
            by_key.setdefault(key, {})[member] = deadline
        for key, mapping in by_key.items():
            async with self._call("refresh"):
                redis = self._redis(key)
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.zadd(KEY_PREFIX + key, mapping)
                    pipe.expire(KEY_PREFIX + key, int(ttl) + 60)
                    await pipe.execute()

    async def put(self, key: str, value: str, ttl: float) -> None:
        async with self._call("put"):
            await self._redis(key).set(KEY_PREFIX + key, value, px=max(1, int(ttl * 1000)))

    async def get_many(self, keys: list[str]) -> list[str | None]:
        values = []
        for key in keys:  # keys may live on different shards: one GET each
            async with self._call("get_many"):
                raw = await self._redis(key).get(KEY_PREFIX + key)
            values.append(raw.decode() if isinstance(raw, bytes) else raw)
        return values

    async def incr(self, key: str, ttl: float) -> int:
        async with self._call("incr"):
            redis = self._redis(key)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.incr(KEY_PREFIX + key)
                pipe.expire(KEY_PREFIX + key, max(1, int(ttl)), nx=True)
                count, _ = await pipe.execute()
        return int(count)

    async def expire(self, key: str) -> list[str]:
        """Remove the members whose deadline passed; only what this call removed is returned,
        so when several processes prune at once each departure is reported once."""
        async with self._call("expire"):
            redis = self._redis(key)
            stale = await redis.zrangebyscore(KEY_PREFIX + key, "-inf", time.time())
            gone = []
            for member in stale:
                if await redis.zrem(KEY_PREFIX + key, member):
                    gone.append(member.decode() if isinstance(member, bytes) else member)
        return gone


_stores: weakref.WeakKeyDictionary[BaseChannelLayer, TTLStore] = weakref.WeakKeyDictionary()


def store_for(layer: BaseChannelLayer) -> TTLStore:
    """The store that goes with ``layer``: one per layer object, so a process's hub and its API
    calls (admin actions, management commands) see the same in-memory sets."""
    store = _stores.get(layer)
    if store is None:
        store = _stores[layer] = MemoryStore() if is_in_memory(layer) else RedisStore(layer)
    return store
