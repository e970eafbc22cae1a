"""The channel layer wsapp uses, and the Redis access it shares with channels_redis.

Nothing here imports channels_redis (an optional extra): the Redis layer class lives in
:mod:`wsapp.redis_layer`.
"""

from __future__ import annotations

from typing import Any

from channels.layers import (
    BaseChannelLayer,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.conf import settings


def redis_layer_config(url: str, **config: Any) -> dict[str, Any]:
    """A ``CHANNEL_LAYERS["default"]`` entry for ``url`` with the capacities rooms need.

    Hub channels carry every room's traffic for a whole process, so they get a capacity far above
    the per-socket default of 100; ``group_send`` to a full channel silently drops.
    """
    return {
        "BACKEND": "wsapp.redis_layer.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": url}],
            "capacity": 1000,
            "channel_capacity": {"wsapp.hub*": 100_000},
            **config,
        },
    }


def get_layer(alias: str = "default") -> BaseChannelLayer:
    """The channel layer rooms, presence and revocation use.

    A project that configures no ``CHANNEL_LAYERS`` at all gets an in-memory layer, so a brand-new
    project works as it is (one process; the system check says so when ``DEBUG`` is off).
    """
    layer = get_channel_layer(alias)
    if layer is None and alias == "default" and not getattr(settings, "CHANNEL_LAYERS", None):
        layer = channel_layers.backends[alias] = InMemoryChannelLayer()
    if layer is None:
        raise RuntimeError(f"CHANNEL_LAYERS has no {alias!r} layer; wsapp rooms need one.")
    return layer


def is_in_memory(layer: BaseChannelLayer) -> bool:
    return isinstance(layer, InMemoryChannelLayer)


def redis_connection(layer: BaseChannelLayer, key: str) -> Any:
    """The redis-py client of the shard ``key`` hashes to, from the layer's own pools."""
    return layer.connection(layer.consistent_hash(key))
