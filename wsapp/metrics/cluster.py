"""Every process's numbers, readable from any process: what the live dashboard shows.

Each hub runs :func:`report_forever` beside it (a hub service, registered once with
``wsapp.hub.hub.hubs.add_service(report_forever)`` in ``WsappConfig.ready()``): once a second it
writes this process's :func:`process_stats` to the hub's shared store, with a TTL of a few
seconds, and adds the process to a shared set. :func:`cluster_stats` reads them all back, so a dashboard on any
process sees every live one, and a process that died drops out within :data:`STATS_TTL`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wsapp import jsoncodec, metrics
from wsapp.exceptions import LayerUnavailable
from wsapp.hub.hub import Hub, get_hub
from wsapp.hub.store import store_for
from wsapp.layers import get_layer

logger = logging.getLogger("wsapp.hub")

STATS_PROCESSES = "stats.processes"
#: Seconds between reports; the dashboard samples at the same pace.
STATS_INTERVAL = 1.0
#: Seconds a report lives: a few missed reports (a busy loop) do not drop the process.
STATS_TTL = 5.0


def stats_key(process: str) -> str:
    return f"stats.{process}"


def process_stats(hub: Hub) -> dict[str, Any]:
    """This process's metrics plus its hub's own numbers and recent presence events."""
    snapshot = metrics.snapshot()
    presence = hub.presence
    snapshot.update(
        rooms={room: len(sockets) for room, sockets in hub.rooms.items()},
        hub_received=hub.received,
        hub_delivered=hub.delivered,
        channel_full=hub.channel_full,
        layer_outages=hub.outage.outages,
        layer_down=hub.outage.down,
        events=list(presence.events) if presence is not None else [],
    )
    return snapshot


async def ensure_reporting() -> None:
    """Start this event loop's hub if it has not started, so that this process reports.

    A hub starts on first use: a process serving no signed-in or room socket has none, and so
    would be missing from :func:`cluster_stats` (a dashboard calls this when it opens).
    """
    await get_hub()


async def local_stats() -> dict[str, Any]:
    """:func:`process_stats` of this event loop's hub, read now (fresher than its last report)."""
    return process_stats(await get_hub())


async def report(hub: Hub) -> None:
    """Publish :func:`process_stats` where any process can read it, for :data:`STATS_TTL`."""
    await hub.store.add(STATS_PROCESSES, metrics.PROCESS, STATS_TTL)
    await hub.store.put(stats_key(metrics.PROCESS), jsoncodec.dumps(process_stats(hub)), STATS_TTL)


async def report_forever(hub: Hub) -> None:
    """The hub service: :func:`report` every :data:`STATS_INTERVAL` until the hub stops.

    While the layer is away it skips the report (the hub is recovering), and a failure is
    logged, not fatal: the next second tries again.
    """
    while not hub.stopping:
        try:
            if not hub.outage.down:
                await report(hub)
        except asyncio.CancelledError:
            raise
        except LayerUnavailable as exc:
            hub.layer_failed("report", exc)
        except Exception:
            if hub.stopping:
                return
            logger.exception("Hub %s failed to report its stats", hub.channel)
        await asyncio.sleep(STATS_INTERVAL)


async def cluster_stats() -> list[dict[str, Any]]:
    """The latest stats of every live process sharing the channel layer, one dict each."""
    store = store_for(get_layer())
    processes = sorted(await store.members(STATS_PROCESSES))
    values = await store.get_many([stats_key(p) for p in processes])
    return [jsoncodec.loads(v) for v in values if v is not None]


__all__ = [
    "cluster_stats",
    "ensure_reporting",
    "local_stats",
    "process_stats",
    "report",
    "report_forever",
]
