"""Test utilities for projects that use wsapp: talk to your websocket routes without a server.

    client = WebSocketTestClient()
    with client.websocket_connect("/ws/echo/") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"

``AsyncWebSocketClient`` is the same for ``async def`` tests. Both run the real stack (origin
check, session auth, router) in-process; ``user=`` sets ``scope["user"]`` directly, as a token
would, so a test needs no login round trip. pytest fixtures: see :mod:`wsapp.testing.plugin`.
"""

from wsapp.testing.client import (
    AsyncWebSocketClient,
    AsyncWebSocketSession,
    HandshakeRejected,
    WebSocketTestClient,
    WebSocketTestSession,
)

__all__ = [
    "AsyncWebSocketClient",
    "AsyncWebSocketSession",
    "HandshakeRejected",
    "WebSocketTestClient",
    "WebSocketTestSession",
]
