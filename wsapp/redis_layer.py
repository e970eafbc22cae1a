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

Errors of Redis itself (refused, reset, timed out) surface as
:class:`wsapp.exceptions.LayerUnavailable` from the layer API, so callers handle "the channel
layer is away" without importing redis-py.
"""

from __future__ import annotations

import asyncio
import logging
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
    sockets outwait its blocking reads, and whose errors say that Redis is away."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("max_connections", DEFAULT_MAX_CONNECTIONS)
        host.setdefault("timeout", DEFAULT_POOL_TIMEOUT)
        host.setdefault("socket_timeout", self.brpop_timeout + BLOCKING_READ_MARGIN)
        if "address" in host:
            return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
        return aioredis.BlockingConnectionPool(**host)

    async def receive(self, channel: str) -> Any:
        with translated_errors("receive"):
            return await super().receive(channel)

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
        """channels_redis runs this in a task nobody awaits: with Redis gone its error would
        be logged as "Task exception was never retrieved". A Redis that restarted has lost the
        backup entry anyway; one that blipped re-queues it, and the reader sees it again."""
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
