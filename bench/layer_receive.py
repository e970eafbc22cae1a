"""``python -m bench.layer_receive``: a hub's backlog read off Redis, channels_redis vs wsapp.

A hub behind a flood has messages waiting on its process channel. channels_redis takes them one
per three round trips (restore the backup, ``BZPOPMIN``, back it up; a fourth cleans it), so the
hub handles one broadcast per loop tick and ``serve`` writes each member one ``send()`` per
message. wsapp's layer (``wsapp.redis_layer``) takes up to ``RECEIVE_BATCH`` more in the round
trip that backs up the first. This sends ``--messages`` to one process channel, then times
reading them all back, once with each layer class, on a private ``redis-server`` pinned to the
other core; it reports the client CPU and the wall time per message and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from channels_redis.core import RedisChannelLayer as ChannelsRedisLayer

from bench import runner
from wsapp.redis_layer import RedisChannelLayer as WsappLayer


class UnbatchedLayer(WsappLayer):  # type: ignore[misc]
    """wsapp's layer reading one message at a time: the batch's share of the difference."""

    receive_batch = 0


async def drain(layer_class: type[Any], url: str, messages: int) -> dict[str, float]:
    layer = layer_class(hosts=[{"address": url}], capacity=messages * 2)
    channel = await layer.new_channel()
    payload = {"type": "wsapp.broadcast", "room": "r", "text": "x" * 100}
    for _ in range(messages):
        await layer.send(channel, payload)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(messages):
        await layer.receive(channel)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await asyncio.gather(*layer.receive_cleaners)
    await layer.flush()
    await layer.close_pools()
    return {"cpu_us": cpu / messages * 1e6, "wall_us": wall / messages * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.layer_receive", description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per layer; the best is kept")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    redis_cpus, client_cpus = cpus[:1], cpus[1:] or cpus
    os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory() as logs, runner.redis(redis_cpus, Path(logs)) as url:
        rows = {}
        layers = [
            ("channels_redis", ChannelsRedisLayer),
            ("wsapp, receive_batch = 0", UnbatchedLayer),
            ("wsapp", WsappLayer),
        ]
        for name, layer_class in layers:
            runs = [asyncio.run(drain(layer_class, url, args.messages)) for _ in range(args.repeat)]
            rows[name] = min(runs, key=lambda r: r["wall_us"])
    print(f"| layer | µs CPU per message | µs wall per message |  ({args.messages} waiting)")
    print("|---|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | {row['cpu_us']:.1f} | {row['wall_us']:.1f} |")
    base, ours = rows["channels_redis"], rows["wsapp"]
    print(
        f"wsapp reads a backlog with {base['cpu_us'] / ours['cpu_us']:.1f}x less CPU and "
        f"{base['wall_us'] / ours['wall_us']:.1f}x less wall time per message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
