"""Shared fixtures: users, a session cookie, in-process communicators on the real stack, the hub's
teardown and hubs of a test's own, fresh channel layers around every test, private Redis servers.

The e2e layer (server processes, a shared database) is not imported here: the e2e, chaos and
browser conftests import what they need, so the unit tests load no process machinery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.redis import RedisServer
from wsapp.hub.hub import Hub, HubService, stop_hub
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession

# pytester: tests/wsapp/test_testing.py runs a project's test session against the shipped plugin.
pytest_plugins = ["pytester"]

#: Seconds a test hub's store entries live (long enough that none expires during a test).
HUB_TTL = 5.0


@pytest.fixture(autouse=True)
def fresh_channel_layers() -> Iterator[None]:
    """Every test of ours gets new channel layers, and leaves none behind.

    An in-memory layer's queues belong to the event loop that first used them, and every async
    test runs on a loop of its own. (Autouse here, in our own suite; the shipped plugin does it
    only for the tests that use its fixtures.)
    """
    from channels.layers import channel_layers

    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest_asyncio.fixture
async def hub_teardown() -> AsyncIterator[None]:
    """Stop this loop's hub (if the test started one) when the test ends, pass or fail.

    Request it before the fixtures whose sockets the hub serves, or through
    ``pytestmark = pytest.mark.usefixtures("hub_teardown")``: fixtures tear down in reverse, so
    the sockets close first and the hub stops last.
    """
    yield
    await stop_hub()


@pytest_asyncio.fixture
async def started_hub() -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    """``await started_hub(*services)`` → a started :class:`Hub` of the test's own (not this
    loop's shared one) on the default layer; every hub it started stops when the test ends."""
    from channels.layers import get_channel_layer

    started: list[Hub] = []

    async def start(*services: HubService) -> Hub:
        hub = Hub(get_channel_layer(), HUB_TTL, services)
        await hub.start()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        await hub.stop()


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="alice-password")


@pytest.fixture
def session_cookie(client: Any, user: Any) -> str:
    """A real Django session cookie for ``user``, as the login page would set it."""
    client.force_login(user)
    from django.conf import settings

    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest_asyncio.fixture
async def communicator(
    hub_teardown: None,
) -> AsyncIterator[Callable[..., Awaitable[AsyncWebSocketSession]]]:
    """``await communicator(path, user=None, **options)`` → a connected session on the full stack."""
    client = AsyncWebSocketClient()
    opened: list[AsyncWebSocketSession] = []

    async def connect(path: str, user: Any = None, **options: Any) -> AsyncWebSocketSession:
        session = client.websocket_connect(path, user=user, **options)
        opened.append(session)
        return await session.connect()

    yield connect
    for session in opened:
        await session.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private ``redis-server`` on a free port for this test session.

    Without the binary the test skips loudly — except under CI (``CI=true``), where a missing
    ``redis-server`` is a failure, never a silent skip.
    """
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, which it may kill and restart on the same port."""
    server = RedisServer(tmp_path_factory.mktemp("redis-own"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_layer(redis_url: str, settings: Any) -> Iterator[str]:
    """Point ``CHANNEL_LAYERS`` at the private Redis (wsapp's layer); flushed on teardown."""
    from asgiref.sync import async_to_sync
    from channels.layers import channel_layers, get_channel_layer

    settings.CHANNEL_LAYERS = {"default": redis_layer_settings(redis_url)}
    channel_layers.backends = {}
    yield redis_url
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    channel_layers.backends = {}


def redis_layer_settings(url: str) -> dict[str, Any]:
    from wsapp.layers import redis_layer_config

    return redis_layer_config(url)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def ttl_store(request: pytest.FixtureRequest) -> Any:
    """The store a hub would use (``wsapp.hub.store``): in memory, or Redis through the Redis
    layer. The layer's ``flush()`` clears only channels_redis's keys; the store's go here."""
    import redis

    from wsapp.hub.store import MemoryStore, store_for
    from wsapp.layers import get_layer

    if request.param == "memory":
        return MemoryStore()
    url = request.getfixturevalue("redis_layer")
    redis.Redis.from_url(url).flushdb()
    return store_for(get_layer())
