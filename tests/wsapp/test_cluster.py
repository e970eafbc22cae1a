"""Dashboard stats: each hub's reporter publishes its process's numbers; any process reads all."""

from __future__ import annotations

import asyncio

from channels.layers import get_channel_layer

from tests.support.timing import wait_until
from tests.wsapp.helpers import StandInSocket
from wsapp import metrics
from wsapp.hub.hub import Hub, current_hub
from wsapp.metrics import cluster
from wsapp.rooms.presence import presence_for


async def test_process_stats_are_the_metrics_plus_the_hubs_numbers_and_presence_events(
    started_hub,
) -> None:
    hub = await started_hub()
    ws = StandInSocket("a")
    await hub.join("lobby", ws)
    await presence_for(hub).join("lobby", ws, "alice")
    stats = cluster.process_stats(hub)
    assert stats["process"] == metrics.PROCESS
    assert stats["rooms"] == {"lobby": 1}
    assert (stats["channel_full"], stats["layer_outages"], stats["layer_down"]) == (0, 0, False)
    assert [(e["kind"], e["user"], e["room"]) for e in stats["events"]] == [
        ("join", "alice", "lobby")
    ]


async def test_a_hub_without_presence_reports_no_events() -> None:
    hub = Hub(get_channel_layer(), 5.0)
    assert cluster.process_stats(hub)["events"] == []


async def test_the_reporter_service_publishes_what_cluster_stats_reads(started_hub) -> None:
    await started_hub(cluster.report_forever)
    await wait_until(cluster.cluster_stats, 2.0, "a report")
    reports = await cluster.cluster_stats()
    assert [r["process"] for r in reports] == [metrics.PROCESS]


async def test_the_reporter_skips_while_the_layer_is_away() -> None:
    hub = Hub(get_channel_layer(), 5.0)
    hub.outage.failed("test", ConnectionError("down"))
    task = asyncio.get_running_loop().create_task(cluster.report_forever(hub))
    await asyncio.sleep(0.05)  # a window for a report that must not come: no condition to wait on
    task.cancel()
    assert await cluster.cluster_stats() == []


async def test_local_stats_are_this_loops_hub_read_now(hub_teardown) -> None:
    stats = await cluster.local_stats()
    assert (stats["process"], stats["rooms"], stats["events"]) == (metrics.PROCESS, {}, [])


async def test_ensure_reporting_starts_this_loops_hub(hub_teardown) -> None:
    assert current_hub() is None
    await cluster.ensure_reporting()
    assert current_hub() is not None
