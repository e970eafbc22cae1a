"""Faults under chat traffic: Redis killed for 10 s, a server process SIGKILLed, PostgreSQL
restarted — two ``serve`` processes, their own Redis and PostgreSQL, and clients that resume.

What is asserted is what DESIGN.md promises: every message that got a ``chat.ack`` reaches every
member exactly once after a resume, the processes recover without help, and each outage is
logged once, not per message. Recovery times are printed (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

import pytest

from tests.chaos.clients import ChatClient, traffic
from tests.e2e.servers import ServerProcess
from tests.support.timing import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.redis]

TRAFFIC_INTERVAL = 0.2  # each client says something five times a second
#: Seconds (scaled) a recovery may take: the hubs, the clients' resumes, the acks catching up.
RECOVERY = 30.0
#: Seconds of traffic before and after each fault. A length of the scenario, not a guess at how
#: long something takes: these stay bare sleeps.
TRAFFIC_AROUND_FAULT = 2.0


def all_live(clients: list[ChatClient]) -> bool:
    return all(client.ws is not None and client.live.is_set() for client in clients)


async def settle_and_check(clients: list[ChatClient], earlier: set[int]) -> set[int]:
    """Wait for every ack, resume every client once more, then check who got what.

    ``earlier``: the ids the clients had in their first history, from before the test's traffic.
    """
    await wait_until(
        lambda: not any(c.outbox for c in clients), RECOVERY, "every message acknowledged"
    )
    acked = {id_ for client in clients for id_ in client.acked.values()}
    before = {client.name: client.connects for client in clients}
    for client in clients:  # the resume the promise is about: ?since=<highest id seen>
        await client.reconnect()
    await wait_until(
        lambda: all(c.connects > before[c.name] and c.live.is_set() for c in clients),
        RECOVERY,
        "every client resumed",
    )
    await wait_until(
        lambda: all(acked <= c.seen for c in clients), RECOVERY, "every ack seen by everyone"
    )
    for client in clients:
        assert client.failure is None, f"{client.name}: {client.failure}"
        assert client.errors == [], client.errors
        assert acked <= client.seen, (client.name, sorted(acked - client.seen))
        duplicates = sorted(i for i, n in client.received.items() if n > 1)
        assert duplicates == [], f"{client.name} got these twice: {duplicates}"
        unacked = set(client.received) - acked - earlier
        assert unacked == set(), f"{client.name} got messages nobody was acknowledged for"
    return acked


@dataclass
class Traffic:
    """The clients' chat traffic around one fault, from :meth:`before_fault` to :meth:`end`."""

    clients: list[ChatClient]
    #: The ids the clients had in their first history, from before the test's traffic.
    earlier: set[int]
    stop: asyncio.Event
    talking: asyncio.Task[int]

    @classmethod
    async def before_fault(cls, clients: list[ChatClient]) -> Traffic:
        """Start the traffic and let it run before the fault comes."""
        earlier = {id_ for client in clients for id_ in client.seen}
        stop = asyncio.Event()
        talking = asyncio.get_running_loop().create_task(traffic(clients, stop, TRAFFIC_INTERVAL))
        await asyncio.sleep(TRAFFIC_AROUND_FAULT)
        return cls(clients, earlier, stop, talking)

    async def end(self) -> int:
        """More traffic after the fault, then stop it and check every promise; returns how
        many messages were sent (each of them was acknowledged)."""
        await asyncio.sleep(TRAFFIC_AROUND_FAULT)
        self.stop.set()
        sent = await self.talking
        acked = await settle_and_check(self.clients, self.earlier)
        assert len(acked) == sent
        return sent


def assert_logged_once(servers: list[ServerProcess], line: str) -> None:
    for server in servers:
        output = server.output()
        assert output.count(line) == 1, f"{line!r} x{output.count(line)}:\n{output[-4000:]}"
        assert "Traceback" not in output, output[-4000:]


async def test_redis_killed_for_10_s_under_traffic(
    chaos_cluster, chat_clients, redis_server, capsys
) -> None:
    servers = chaos_cluster()
    clients = await chat_clients(servers)
    talk = await Traffic.before_fault(clients)
    redis_server.kill()
    await asyncio.sleep(10)  # the outage's length is the scenario
    redis_server.start()
    restarted = time.monotonic()
    for server in servers:
        await wait_until(
            lambda s=server: "Channel layer back after" in s.output(), RECOVERY, "recovery"
        )
    hubs_back = time.monotonic() - restarted
    await wait_until(lambda: all_live(clients), RECOVERY, "every client live again")
    clients_back = time.monotonic() - restarted
    sent = await talk.end()
    assert_logged_once(servers, "Channel layer unavailable")
    with capsys.disabled():
        print(
            f"\nRedis 10 s outage: hubs back {hubs_back:.2f} s and clients live "
            f"{clients_back:.2f} s after Redis restarted; {sent} messages, all delivered once"
        )


async def test_a_sigkilled_process_clients_resume_on_the_other(
    chaos_cluster, chat_clients, capsys
) -> None:
    p1, p2 = servers = chaos_cluster()
    clients = await chat_clients(servers)
    talk = await Traffic.before_fault(clients)
    p2.stop(signal.SIGKILL)
    killed = time.monotonic()
    await wait_until(
        lambda: all_live(clients) and all(c.server is p1 for c in clients),
        RECOVERY,
        "failover to p1",
    )
    failover = time.monotonic() - killed
    sent = await talk.end()
    output = p1.output()
    assert "Traceback" not in output, output[-4000:]
    assert "Channel layer unavailable" not in output
    with capsys.disabled():
        print(
            f"\nSIGKILL: clients live on the other process {failover:.2f} s later; {sent} messages"
        )


async def test_postgres_restarted_under_traffic(
    chaos_cluster, chat_clients, postgres_server, capsys
) -> None:
    servers = chaos_cluster()
    clients = await chat_clients(servers)
    talk = await Traffic.before_fault(clients)
    started = time.monotonic()
    await asyncio.to_thread(postgres_server.stop)  # "fast": every client is disconnected
    await asyncio.sleep(3)  # down for a while, so reconnects and handshakes meet it too
    await asyncio.to_thread(postgres_server.start)
    restarted = time.monotonic()
    acks_before = sum(len(c.acked) for c in clients)
    await wait_until(
        lambda: sum(len(c.acked) for c in clients) > acks_before + len(clients),
        RECOVERY,
        "acks again",
    )
    back = time.monotonic() - restarted
    sent = await talk.end()
    assert_logged_once(servers, "Database unavailable")
    with capsys.disabled():
        print(
            f"\nPostgreSQL down {restarted - started:.2f} s: acks flow again {back:.2f} s "
            f"after it is up; {sent} messages, all delivered once"
        )
