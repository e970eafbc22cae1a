"""The e2e fixtures (real ``manage.py serve`` processes on free ports), shared, not copied,
and ``raw``: raw-socket clients closed at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import e2e_database_url, serve_server, start_server
from tests.security.rawws import RawClients

__all__ = ["e2e_database_url", "raw", "serve_server", "start_server"]


@pytest.fixture
async def raw() -> AsyncIterator[RawClients]:
    clients = RawClients()
    yield clients
    await clients.aclose()
