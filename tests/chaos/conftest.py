"""Fixtures of the chaos suite: a throwaway PostgreSQL, its database, and a two-process cluster.

The server processes come from ``tests/e2e``'s ``start_server`` (killed by PID at teardown) and
Redis from ``redis_server`` in ``tests/conftest.py`` (the test's own, killable and restartable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.chaos.clients import ChatClient
from tests.chaos.postgres import PostgresServer
from tests.e2e.cluster import (
    CLUSTER_SETTINGS,
    postgres_database,
    seed_cluster_database,
    session_cookie,
)
from tests.e2e.conftest import e2e_database_url, start_server  # noqa: F401 (fixtures)
from tests.e2e.servers import ServerProcess
from tests.support.redis import RedisServer
from tests.support.timing import scaled


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of the chaos suite's own (never the machine's shared server)."""
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def chaos_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A migrated, seeded database on the throwaway PostgreSQL, dropped at the end."""
    databases = postgres_database(postgres_server.url)
    url = next(databases)
    seed_cluster_database(url)
    yield url
    for _ in databases:
        pass


@pytest.fixture(scope="session")
def chaos_cookies(chaos_database_url: str) -> dict[str, str]:
    return {name: session_cookie(chaos_database_url, name) for name in ("alice", "bob", "admin")}


@pytest.fixture
def chaos_cluster(
    redis_server: RedisServer,
    start_server: Any,  # noqa: F811 (the fixture imported above)
    chaos_database_url: str,
) -> Callable[..., list[ServerProcess]]:
    """``chaos_cluster(n)``: ``n`` serve processes on the test's Redis and PostgreSQL."""

    def start(n: int = 2, **wsapp: Any) -> list[ServerProcess]:
        env = {"DATABASE_URL": chaos_database_url, "REDIS_URL": redis_server.url}
        settings = {"PRESENCE_TTL": scaled(6), **wsapp}
        return [
            start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp=settings)
            for _ in range(n)
        ]

    return start


@pytest.fixture
async def chat_clients(chaos_cookies: dict[str, str]) -> Any:
    """``await chat_clients(servers)``: alice, bob and admin, spread over ``servers``, live."""
    started: list[tuple[ChatClient, asyncio.Task[None]]] = []

    async def make(servers: list[ServerProcess]) -> list[ChatClient]:
        clients = []
        for i, name in enumerate(("alice", "bob", "admin")):
            order = servers[i % len(servers) :] + servers[: i % len(servers)]
            client = ChatClient(name, chaos_cookies[name], order)
            started.append((client, asyncio.get_running_loop().create_task(client.run())))
            clients.append(client)
        for client in clients:
            await asyncio.wait_for(client.live.wait(), scaled(10))
        return clients

    yield make
    for client, task in started:
        client.stop()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
