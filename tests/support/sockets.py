"""Sockets that have joined: the ``connect`` fixture of the in-process hub and publish tests.

``tests/wsapp/test_delivery.py`` and ``tests/wsapp/test_publish.py`` both route test sockets to
handlers that accept, join and greet with ``{"type": "joined"}``, and both need each socket to
have joined before the test publishes (a message sent before the join reaches nobody). One
helper opens such sockets, waits for the greeting and closes them all on teardown, so the two
files keep only their routes:

    @pytest_asyncio.fixture
    async def connect() -> AsyncIterator[Connect]:
        async with joined_sockets(Router([path("room/<slug:room>/", member)])) as connect:
            yield connect
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession
from wsapp.types import ASGIApp

#: Opens a socket on a URL (``user=`` and the client's other options), once it has joined.
Connect = Callable[..., Awaitable[AsyncWebSocketSession]]

#: The greeting the handlers send once the socket is in its rooms.
JOINED = {"type": "joined"}


@contextlib.asynccontextmanager
async def joined_sockets(app: ASGIApp) -> AsyncIterator[Connect]:
    """Yield a function that opens a socket on ``app`` and waits for its greeting.

    Args:
        app: the routes, whose handlers send :data:`JOINED` once they have joined.

    Every socket opened is closed when the block ends.
    """
    client = AsyncWebSocketClient(app)
    opened: list[AsyncWebSocketSession] = []

    async def open_session(url: str, **options: Any) -> AsyncWebSocketSession:
        session = await client.websocket_connect(url, **options).connect()
        opened.append(session)
        assert await session.receive_json() == JOINED
        return session

    yield open_session
    for session in opened:
        await session.close()
