"""``RedisChannelLayer``: channels_redis's own layer with fixes for churn, idle and outages.

Configure it as ``"BACKEND": "wsapp.redis_layer.RedisChannelLayer"`` (the ``redis`` extra). Each
host entry takes redis-py's pool options; wsapp changes three defaults:

- ``max_connections`` (200) and ``timeout`` (20 s) with a ``BlockingConnectionPool``: redis-py's
  plain pool raises ``MaxConnectionsError`` the moment its connections are all busy, so when
  hundreds of sockets close at once their ``group_discard`` calls fail and the channels stay in
  the group for a day. A blocking pool waits for a free connection instead.
- ``socket_timeout``: ``brpop_timeout`` (5 s) plus :data:`BLOCKING_READ_MARGIN`. redis-py 8
  reads with a 5 s socket timeout by default, exactly as long as the ``BZPOPMIN`` channels_redis
  blocks in: an idle reader timed out just as Redis answered, logged an error, and could lose a
  message Redis had already popped for it. The reply to a blocking read must come before the
  socket gives up on it, so the socket waits longer than the command does.

A process's channel (the one its hubs and consumers share, ``specific.<id>!``) is read in
batches: once ``BZPOPMIN`` has the first message, the same round trip that backs it up takes up
to :data:`RECEIVE_BATCH` more. channels_redis takes one message per three round trips, so a hub
behind a flood handled one broadcast per loop tick and wrote every member one ``send()`` per
message; now it takes the backlog in one go, and ``serve`` joins each member's frames of that
tick into one write. The extra messages wait in the layer until the receive that fetched them
returns, then join channels_redis's per-channel buffers behind it, in order. A read is two round
trips, not four (the last batch's backup is dropped in the one that waits for the next).

Errors of Redis itself (refused, reset, timed out) surface as
:class:`wsapp.exceptions.LayerUnavailable` from the layer API, so callers handle "the channel
layer is away" without importing redis-py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from wsapp.exceptions import LayerUnavailable

logger = logging.getLogger("wsapp.hub")

DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_POOL_TIMEOUT = 20
# Seconds a socket waits beyond the blocking read's own timeout for Redis's reply: room for a
# loaded Redis or event loop, short enough that a dead peer is noticed soon.
BLOCKING_READ_MARGIN = 5.0

#: Messages one read of a process's channel takes beyond the first, when they are waiting.
RECEIVE_BATCH = 64
# Before a read: drop the ARGV[1] messages of the last batch, which were handed on (the oldest
# in the backup), and with ARGV[2] = "1" (a read was interrupted) put what is left back at the
# front of the channel: channels_redis's restore, without the duplicates of handled messages.
_SETTLE_BACKUP = """
if tonumber(ARGV[1]) > 0 then
    redis.call('ZPOPMIN', KEYS[2], ARGV[1])
end
if ARGV[2] == '1' then
    local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = #backed_up, 1, -2 do
        redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
    end
    redis.call('DEL', KEYS[2])
end
"""
# Back up the message BZPOPMIN returned and take (and back up) up to ARGV[3] more, atomically:
# a reader cancelled while the reply is on its way leaves them in the backup, not lost.
_TAKE_MORE = """
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local more = redis.call('ZPOPMIN', KEYS[1], ARGV[3])
for i = 1, #more, 2 do
    redis.call('ZADD', KEYS[2], more[i + 1], more[i])
end
return more
"""

#: What a Redis that went away raises through redis-py (connection refused or reset, timeouts).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn redis-py's connection errors into :class:`LayerUnavailable` (retryable, 1013)."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise LayerUnavailable(f"Redis is unavailable ({action}): {exc}") from exc


class RedisChannelLayer(_RedisChannelLayer):  # type: ignore[misc]
    """channels_redis's layer whose pools wait for a free connection rather than fail, whose
    sockets outwait its blocking reads, whose process channel is read in batches, and whose
    errors say that Redis is away."""

    #: Messages one read takes beyond the first (0: one at a time, as channels_redis).
    receive_batch = RECEIVE_BATCH

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("max_connections", DEFAULT_MAX_CONNECTIONS)
        host.setdefault("timeout", DEFAULT_POOL_TIMEOUT)
        host.setdefault("socket_timeout", self.brpop_timeout + BLOCKING_READ_MARGIN)
        if "address" in host:
            return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
        return aioredis.BlockingConnectionPool(**host)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per process channel: (channel, message) fetched with an earlier one, not yet handed on.
        self._taken: defaultdict[str, deque[tuple[Any, dict[str, Any]]]] = defaultdict(deque)
        # Per channel key: messages of the last batch still in its backup, though handed on.
        self._handled: dict[str, int] = {}
        # Channel keys whose last read was interrupted: their backup goes back on the channel.
        self._interrupted: set[str] = set()

    async def receive(self, channel: str) -> Any:
        with translated_errors("receive"):
            message = await super().receive(channel)
        self._hand_on_taken()
        return message

    def _hand_on_taken(self) -> None:
        """Put the messages a batch brought into channels_redis's per-channel buffers, after the
        one the batch was fetched for (which its receive has just put there and taken)."""
        for real_channel in list(self._taken):
            taken = self._taken.pop(real_channel)
            for target, message in taken:
                # A group_send packs one message for all of a process's channels in the group.
                for local in target if isinstance(target, list) else (target,):
                    self.receive_buffer[local].put_nowait(message)

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        """channels_redis's ``receive_single``, taking up to :data:`RECEIVE_BATCH` more
        messages off a process channel in the round trip that backs up the first.

        Two round trips a read instead of four: the backup of the last batch is cleaned in the
        one that waits for the next (channels_redis cleans each message in a task of its own,
        and restores the backup before every read in case a reader was interrupted; here only
        after one was).
        """
        if "!" not in channel:
            return await super().receive_single(channel)  # type: ignore[no-any-return]
        taken = self._taken.get(channel)
        if taken:  # a receive that fetched them failed before handing them on: oldest first
            return taken.popleft()
        key = self.prefix + channel
        contents = None
        while contents is None:
            contents = await self._pop_batch(self.connection(self.consistent_hash(channel)), key)
        first, *more = (self._unpack(channel, content) for content in contents)
        self._taken[channel].extend(more)
        return first

    async def _pop_batch(self, connection: Any, key: str) -> list[bytes] | None:
        """Settle the backup, wait for a message, back it up with up to ``receive_batch`` more."""
        backup = self._backup_channel_name(key)
        handled = self._handled.get(key, 0)
        interrupted = key in self._interrupted
        try:
            if handled or interrupted:
                async with connection.pipeline(transaction=False) as pipe:
                    pipe.eval(_SETTLE_BACKUP, 2, key, backup, handled, "1" if interrupted else "0")
                    pipe.bzpopmin(key, timeout=self.brpop_timeout)
                    _, result = await pipe.execute()
                self._handled.pop(key, None)
                self._interrupted.discard(key)
            else:
                result = await connection.bzpopmin(key, timeout=self.brpop_timeout)
            if result is None:
                return None
            _, member, score = result
            more = await connection.eval(
                _TAKE_MORE, 2, key, backup, member, score, self.receive_batch
            )
        except BaseException:
            self._interrupted.add(key)  # what it popped may wait in the backup: restore it
            raise
        self._handled[key] = 1 + len(more) // 2
        return [member, *more[::2]]

    def _unpack(self, channel: str, content: bytes) -> tuple[Any, dict[str, Any]]:
        """The message and where it goes: a channel, or a list of them (a group_send's)."""
        message = self.deserialize(content)
        return message.pop("__asgi_channel__", channel), message

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        with translated_errors("send"):
            await super().send(channel, message)

    async def group_add(self, group: str, channel: str) -> None:
        with translated_errors("group_add"):
            await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        with translated_errors("group_discard"):
            await super().group_discard(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        with translated_errors("group_send"):
            await super().group_send(group, message)

    async def _clean_receive_backup(self, index: int, channel: str) -> None:
        """channels_redis runs this (for a plain channel's read) in a task nobody awaits: with
        Redis gone its error would be logged as "Task exception was never retrieved". A Redis
        that restarted has lost the backup entry anyway; one that blipped re-queues it, and the
        reader sees it again."""
        try:
            await super()._clean_receive_backup(index, channel)
        except REDIS_ERRORS as exc:
            logger.debug("Could not clean the receive backup of %s: %s", channel, exc)

    async def reset_connections(self) -> None:
        """Drop this loop's pooled connections, so the next command dials a fresh one.

        After Redis restarts every pooled connection is dead, and redis-py finds out only by
        failing a command on each: the hub calls this while it waits for Redis to come back.
        """
        layer = self._layers.get(asyncio.get_running_loop())
        if layer is None:
            return
        for client in list(layer._connections.values()):
            await client.connection_pool.disconnect()
