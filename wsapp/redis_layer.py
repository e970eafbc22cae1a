"""``RedisChannelLayer``: channels_redis's own layer with fixes for churn and idle (the ``redis`` extra).

Configure it as ``"BACKEND": "wsapp.redis_layer.RedisChannelLayer"``. Each host entry takes
redis-py's pool options; wsapp changes three defaults:

- ``max_connections`` (200) and ``timeout`` (20 s) with a ``BlockingConnectionPool``: redis-py's
  plain pool raises ``MaxConnectionsError`` the moment its connections are all busy, so when
  hundreds of sockets close at once their ``group_discard`` calls fail and the channels stay in
  the group for a day. A blocking pool waits for a free connection instead.
- ``socket_timeout``: ``brpop_timeout`` (5 s) plus :data:`BLOCKING_READ_MARGIN`. redis-py 8
  reads with a 5 s socket timeout by default, exactly as long as the ``BZPOPMIN`` channels_redis
  blocks in: an idle reader timed out just as Redis answered, logged an error, and could lose a
  message Redis had already popped for it. The reply to a blocking read must come before the
  socket gives up on it, so the socket waits longer than the command does.
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from redis import asyncio as aioredis

DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_POOL_TIMEOUT = 20
# Seconds a socket waits beyond the blocking read's own timeout for Redis's reply: room for a
# loaded Redis or event loop, short enough that a dead peer is noticed soon.
BLOCKING_READ_MARGIN = 5.0


class RedisChannelLayer(_RedisChannelLayer):  # type: ignore[misc]
    """channels_redis's layer whose pools wait for a free connection rather than fail, and
    whose sockets outwait its blocking reads."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("max_connections", DEFAULT_MAX_CONNECTIONS)
        host.setdefault("timeout", DEFAULT_POOL_TIMEOUT)
        host.setdefault("socket_timeout", self.brpop_timeout + BLOCKING_READ_MARGIN)
        if "address" in host:
            return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
        return aioredis.BlockingConnectionPool(**host)
