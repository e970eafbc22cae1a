"""Expiring sets shared by every process: who is in a room, how many sockets a user has.

Each process writes its own entries with a deadline and refreshes them while they live, so a
process that crashes stops refreshing and its entries fall out within one TTL — no cleanup
needed from the dead. With the in-memory layer (one process) the sets are a dict; with Redis
they are sorted sets scored by deadline, on the shard channels_redis would pick for the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
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
    async def add_within(
        self, key: str, member: str, owner: str, ttl: float, cap: int
    ) -> list[str] | None: ...
    async def remove(self, key: str, member: str) -> bool: ...
    async def members(self, key: str) -> list[str]: ...
    async def refresh(self, entries: Iterable[tuple[str, str]], ttl: float) -> None: ...
    async def expire(self, key: str) -> list[str]: ...
    async def spend(self, key: str, interval_us: int, burst: int, now_us: int) -> bool: ...
    async def put(self, key: str, value: str, ttl: float) -> None: ...
    async def get_many(self, keys: list[str]) -> list[str | None]: ...


def gcra(tat: int, interval_us: int, burst: int, now_us: int) -> tuple[bool, int]:
    """The generic cell rate algorithm: a token bucket kept as one number.

    ``tat`` (theoretical arrival time) is when the bucket will be full again; an event is allowed
    while that stays within ``burst`` intervals of now, and pushes it one interval on. Integer
    microseconds keep Python and Redis's Lua (doubles, exact up to 2**53) in exact agreement.

    Returns:
        Whether the event is allowed, and the bucket's new ``tat``.
    """
    new_tat = max(tat, now_us) + interval_us
    if new_tat - now_us > burst * interval_us:
        return False, tat
    return True, new_tat


# :func:`gcra` in Redis. The key lives until its bucket is full again: a quiet user costs nothing.
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + interval
if tat - now > tonumber(ARGV[3]) * interval then
  return 0
end
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return 1
"""


# RedisStore.add_within: the distinct owners of the live members, then the add if there is room.
_ADD_WITHIN_LUA = """
local seen, owners = {}, {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')) do
  -- The member itself, if a refresh wrote it early, holds no seat yet.
  if m ~= ARGV[3] then
    local ok, decoded = pcall(cjson.decode, m)
    local owner = (ok and type(decoded) == 'table' and tostring(decoded[1])) or m
    if not seen[owner] then
      seen[owner] = true
      owners[#owners + 1] = owner
    end
  end
end
if not seen[ARGV[4]] and #owners >= tonumber(ARGV[5]) then
  return false
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return owners
"""


def _owner(member: str) -> str:
    """The owner a capped set's member names: the first item of its JSON array."""
    try:
        decoded = json.loads(member)
    except ValueError:
        return member
    return str(decoded[0]) if isinstance(decoded, list) and decoded else member


class MemoryStore:
    """One process's sets: ``{key: {member: deadline}}``."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, float]] = {}
        self.buckets: dict[str, int] = {}
        self.values: dict[str, tuple[str, float]] = {}

    async def add(self, key: str, member: str, ttl: float) -> None:
        self.sets.setdefault(key, {})[member] = time.time() + ttl

    async def add_within(
        self, key: str, member: str, owner: str, ttl: float, cap: int
    ) -> list[str] | None:
        """Add ``member`` unless ``cap`` other owners are live; see :meth:`RedisStore.add_within`."""
        owners = sorted({_owner(m) for m in await self.members(key) if m != member})
        if owner not in owners and len(owners) >= cap:
            return None
        await self.add(key, member, ttl)
        return owners

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

    async def spend(self, key: str, interval_us: int, burst: int, now_us: int) -> bool:
        """One event from the bucket under ``key``; see :func:`gcra` (``False``: over the limit)."""
        allowed, tat = gcra(self.buckets.get(key, 0), interval_us, burst, now_us)
        if allowed:
            self.buckets[key] = tat
        if len(self.buckets) > 10_000:  # drop full (forgotten) buckets now and then
            self.buckets = {k: v for k, v in self.buckets.items() if v > now_us}
        return allowed

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

    async def add_within(
        self, key: str, member: str, owner: str, ttl: float, cap: int
    ) -> list[str] | None:
        """Add ``member`` unless the set's live members already name ``cap`` owners other than
        ``owner`` (a member is a JSON array whose first item is its owner: presence's entries).
        ``member`` itself, if a refresh wrote it already, holds no seat and is not counted.

        Count and add are one Lua script, so a crowd joining at once on any number of processes
        can never take more than ``cap`` seats.

        Returns:
            The live owners before the add (sorted), or ``None``: full, nothing was added.
        """
        async with self._call("add_within"):
            owners = await self._redis(key).eval(
                _ADD_WITHIN_LUA,
                1,
                KEY_PREFIX + key,
                time.time(),
                time.time() + ttl,
                member,
                owner,
                cap,
                int(ttl) + 60,
            )
        if owners is None:
            return None
        return sorted(o.decode() if isinstance(o, bytes) else o for o in owners)

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

    async def spend(self, key: str, interval_us: int, burst: int, now_us: int) -> bool:
        """:func:`gcra` as one Lua script: read, decide and write are atomic across processes."""
        async with self._call("spend"):
            allowed = await self._redis(key).eval(
                _GCRA_LUA, 1, KEY_PREFIX + key, now_us, interval_us, burst
            )
        return bool(allowed)

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
