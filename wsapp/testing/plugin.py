"""pytest fixtures for projects that use wsapp; registered through the ``pytest11`` entry point.

def test_echo(ws_client):
    with ws_client.websocket_connect("/ws/echo/") as ws: ...

async def test_echo_async(ws_connect):
    ws = await ws_connect("/ws/echo/")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the async fixture needs pytest-asyncio
    pytest_asyncio = None  # type: ignore[assignment]


@pytest.fixture
def ws_client() -> Iterator[Any]:
    """A synchronous :class:`~wsapp.testing.WebSocketTestClient` on the project's stack."""
    from wsapp.testing import WebSocketTestClient

    with WebSocketTestClient() as client:
        yield client


@pytest.fixture(autouse=True)
def _wsapp_fresh_channel_layers() -> Iterator[None]:
    """Each test gets new channel layers: an in-memory layer's queues belong to one event loop,
    and every async test runs on a loop of its own."""
    try:
        from channels.layers import channel_layers
    except ImportError:  # pragma: no cover
        yield
        return
    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def ws_connect() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
        """``await ws_connect(path, **options)`` → a connected session, closed after the test."""
        from wsapp.testing import AsyncWebSocketClient

        client = AsyncWebSocketClient()
        sessions: list[Any] = []

        async def connect(path: str, **options: Any) -> Any:
            session = client.websocket_connect(path, **options)
            sessions.append(session)
            return await session.connect()

        yield connect
        for session in sessions:
            await session.close()
        from wsapp.hub.hub import stop_hub

        await stop_hub()
