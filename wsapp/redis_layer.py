"""``RedisChannelLayer``: channels_redis's own layer with one fix for churn (the ``redis`` extra).

redis-py's asyncio ``ConnectionPool`` raises ``MaxConnectionsError`` the moment its connections
are all busy, so when hundreds of sockets close at once their ``group_discard`` calls fail and
the channels stay in the group for a day. A ``BlockingConnectionPool`` waits for a free
connection instead. Configure it as ``"BACKEND": "wsapp.redis_layer.RedisChannelLayer"``.
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from redis import asyncio as aioredis

DEFAULT_MAX_CONNECTIONS = 200
DEFAULT_POOL_TIMEOUT = 20


class RedisChannelLayer(_RedisChannelLayer):  # type: ignore[misc]
    """channels_redis's layer whose pools wait for a free connection rather than fail."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        host.setdefault("max_connections", DEFAULT_MAX_CONNECTIONS)
        host.setdefault("timeout", DEFAULT_POOL_TIMEOUT)
        if "address" in host:
            return aioredis.BlockingConnectionPool.from_url(host.pop("address"), **host)
        return aioredis.BlockingConnectionPool(**host)
