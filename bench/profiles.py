"""How much load each scenario sends: the full run and ``--quick``.

The full run has the issue's shapes (50 conns × 200 msgs × 100 B; idle 5,000 then 10,000 sockets;
rooms of 100 and 1,000). ``--quick`` keeps every shape but shrinks the counts to fit two minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    echo_conns: int = 50
    echo_msgs: int = 200
    echo_size: int = 100
    connect_total: int = 2000
    connect_concurrency: int = 10  # per client process
    idle_counts: tuple[int, ...] = (5000, 5000)  # bytes/conn over the first; 10,000 held at the end
    room_sizes: tuple[int, ...] = (100, 1000)
    flood_msgs: int = 100
    paced_msgs: int = 30
    # Paced publishing offers this many deliveries per second whatever the room size (20 msg/s to
    # 100 members, 2 msg/s to 1,000): below the plain Channels pattern's capacity, so the paced
    # p99 is the latency of a broadcast, not the length of a backlog.
    paced_deliveries: float = 2000.0
    pad: int = 60  # filler bytes in each published payload (~100 B in all)
    grace: float = 3.0  # a fan-out run ends after this long without a delivery
    settle: float = 1.0  # before reading RSS
    timeout: float = 180.0  # hard limit for one scenario
    repeat: int = 3  # timed scenarios keep their best run: interference only ever slows a run


FULL = Profile("full")
QUICK = Profile(
    "quick",
    echo_msgs=100,
    connect_total=300,
    idle_counts=(1000,),
    room_sizes=(100,),
    flood_msgs=20,
    paced_msgs=20,
    grace=1.5,
    settle=0.5,
    timeout=60.0,
    repeat=1,
)
