"""Test utilities for projects that use wsapp: talk to your websocket routes without a server.

    client = WebSocketTestClient()
    with client.websocket_connect("/ws/echo/") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"

``AsyncWebSocketClient`` is the same for ``async def`` tests. Both run the real stack (origin
check, session auth, router) in-process; ``user=`` sets ``scope["user"]`` directly, as a token
would, so a test needs no login round trip. pytest fixtures: see :mod:`wsapp.testing.plugin`.

The pytest plugin (:mod:`wsapp.testing.plugin`, loaded in every project that installs wsapp) is a
submodule of this package, so this module imports nothing until a name is used: a project's
test session that never touches a wsapp fixture never loads the client, the codec or Django.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "AsyncWebSocketClient",
    "AsyncWebSocketSession",
    "HandshakeRejected",
    "WebSocketTestClient",
    "WebSocketTestSession",
]

if TYPE_CHECKING:
    from wsapp.testing.client import (
        AsyncWebSocketClient,
        AsyncWebSocketSession,
        HandshakeRejected,
        WebSocketTestClient,
        WebSocketTestSession,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("wsapp.testing.client"), name)
    raise AttributeError(f"module 'wsapp.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
