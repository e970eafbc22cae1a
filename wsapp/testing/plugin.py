"""pytest fixtures for projects that use wsapp; registered through the ``pytest11`` entry point.

def test_echo(ws_client):
    with ws_client.websocket_connect("/ws/echo/") as ws: ...

async def test_echo_async(ws_connect):
    ws = await ws_connect("/ws/echo/")

The plugin is loaded in every project that installs wsapp, so it does nothing to a test that
uses none of its fixtures: no autouse fixture, no hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture needs pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]


@contextlib.contextmanager
def _fresh_channel_layers() -> Iterator[None]:
    """New channel layers for the test, and again after it.

    An in-memory layer's queues belong to the event loop that first used them, and every async
    test runs on a loop of its own: a layer kept from an earlier test would hang this one. Only
    the fixtures below do this; the plugin loads in every project that installs wsapp, and a test
    that uses none of its fixtures keeps whatever layers its project set up.
    """
    try:
        from channels.layers import channel_layers
    except ImportError:  # pragma: no cover - channels is a dependency of wsapp
        yield
        return
    channel_layers.backends = {}
    try:
        yield
    finally:
        channel_layers.backends = {}


@pytest.fixture
def ws_client() -> Iterator[Any]:
    """A synchronous :class:`~wsapp.testing.WebSocketTestClient` on the project's stack, with
    fresh channel layers."""
    from wsapp.testing import WebSocketTestClient

    with _fresh_channel_layers(), WebSocketTestClient() as client:
        yield client


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def ws_connect() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """``await ws_connect(path, **options)`` → a connected session, closed after the test,
        with fresh channel layers."""
        from wsapp.hub.hub import stop_hub
        from wsapp.testing import AsyncWebSocketClient

        with _fresh_channel_layers():
            client = AsyncWebSocketClient()
            sessions: list[Any] = []

            async def connect(path: str, **options: Any) -> Any:
                session = client.websocket_connect(path, **options)
                sessions.append(session)
                return await session.connect()

            yield connect
            for session in sessions:
                await session.close()
            await stop_hub()
