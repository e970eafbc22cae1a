"""Shared fixtures: users, a session cookie, and in-process communicators on the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession


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
async def communicator() -> AsyncIterator[Callable[..., Awaitable[AsyncWebSocketSession]]]:
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
