"""The demo chat: wsapp's RoomConsumer, as a project would use it."""

from __future__ import annotations

from wsapp import RoomConsumer


class ChatConsumer(RoomConsumer):
    """``/ws/chat/<slug>/``: history, presence, typing and messages, per DESIGN.md's protocol."""

    subprotocols = ["wsapp.v1"]
    max_body_length = 2000
