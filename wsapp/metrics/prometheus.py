"""``/wsapp/metrics``: this process's counters in Prometheus's text format, read at scrape time.

The hot path never calls ``prometheus_client``: a connection counts its own messages and bytes
in plain attributes (see :mod:`wsapp.metrics`), and the collector here turns
:func:`wsapp.metrics.snapshot` into metric families only when Prometheus asks. So a scrape costs
one walk over the open connections, and a message costs nothing extra.

``prometheus_client`` is optional (``pip install 'wsapp[metrics]'``): importing this module
without it raises ``ImproperlyConfigured`` that says so, and only the metrics view imports it.

Each process serves its own numbers; Prometheus scrapes every process and sums them
(``sum(wsapp_connections)``). ``wsapp_room_online`` is the exception: it counts a room's users
across all processes (from presence), so every process with members in the room reports the same
value — aggregate it with ``max by (room)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised by removing the module in a test
    raise ImproperlyConfigured(
        "wsapp's /wsapp/metrics needs prometheus_client: pip install 'wsapp[metrics]' "
        "(or pip install prometheus-client)."
    ) from exc

from wsapp import metrics
from wsapp.hub.hub import current_hub
from wsapp.rooms.api import aonline

__all__ = ["CONTENT_TYPE", "WsappCollector", "render", "room_online_counts"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class WsappCollector(Collector):
    """Metric families built from :func:`wsapp.metrics.snapshot` each time it is collected.

    Args:
        room_online: users online per room (across processes) for the rooms this process has
            members in; gathered by the caller, since presence is read asynchronously.
        channel_full: channel-layer messages this process dropped because a channel was full.
        tasks: asyncio tasks alive on the server's event loop; one that only grows under steady
            traffic is a leak (``python -m bench.soak`` watches it).
    """

    def __init__(
        self, room_online: Mapping[str, int] | None = None, channel_full: int = 0, tasks: int = 0
    ) -> None:
        self.room_online = dict(room_online or {})
        self.channel_full = channel_full
        self.tasks = tasks

    def collect(self) -> Iterator[Metric]:
        snap = metrics.snapshot()
        yield GaugeMetricFamily(
            "wsapp_connections", "Open websocket connections.", value=snap["connections"]
        )
        yield CounterMetricFamily(
            "wsapp_connections_accepted", "Handshakes accepted.", value=snap["accepted"]
        )
        yield _labelled(
            CounterMetricFamily(
                "wsapp_connections_closed", "Closed connections by close code.", labels=["code"]
            ),
            snap["closed"],
        )
        yield _labelled(
            CounterMetricFamily(
                "wsapp_handshakes_refused",
                "Handshakes refused before accept, by reason (origin, no_route, handshake).",
                labels=["reason"],
            ),
            snap["refused"],
        )
        for name, key, doc in _TRAFFIC:
            yield CounterMetricFamily(name, doc, value=snap[key])
        yield CounterMetricFamily(
            "wsapp_channel_full",
            "Channel-layer messages dropped because a channel was full.",
            value=self.channel_full,
        )
        yield GaugeMetricFamily(
            "wsapp_asyncio_tasks", "Tasks alive on the server's event loop.", value=self.tasks
        )
        yield _labelled(
            GaugeMetricFamily(
                "wsapp_room_online",
                "Users online in a room across all processes (rooms with members here).",
                labels=["room"],
            ),
            self.room_online,
        )


_TRAFFIC = [
    ("wsapp_messages_received", "messages_in", "Websocket messages received from clients."),
    ("wsapp_messages_sent", "messages_out", "Websocket messages sent to clients."),
    ("wsapp_bytes_received", "bytes_in", "Payload bytes received from clients."),
    ("wsapp_bytes_sent", "bytes_out", "Payload bytes sent to clients."),
]


Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


def _labelled(family: Family, values: Mapping[str, int]) -> Family:
    for label, value in sorted(values.items()):
        family.add_metric([str(label)], value)
    return family


async def room_online_counts() -> dict[str, int]:
    """``{room: users online}`` for the rooms with members on this event loop's hub.

    One presence lookup per such room: bounded by what this process serves, not by the rooms in
    the database.
    """
    hub = current_hub()
    if hub is None:
        return {}
    return {room: len(await aonline(room)) for room in sorted(hub.rooms)}


async def render() -> bytes:
    """The whole exposition, in Prometheus's text format."""
    hub = current_hub()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        WsappCollector(
            await room_online_counts(),
            hub.channel_full if hub is not None else 0,
            len(asyncio.all_tasks()),
        )
    )
    return generate_latest(registry)
