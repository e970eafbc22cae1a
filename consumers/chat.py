"""The demo chat: wsapp's RoomConsumer, as a project would use it."""

from __future__ import annotations

from wsapp import RoomConsumer


class ChatConsumer(RoomConsumer):
    """``/ws/chat/<slug>/``: history, presence, typing and messages (docs/architecture.md: the chat protocol)."""

    subprotocols = ["wsapp.v1"]
    max_body_length = 2000
