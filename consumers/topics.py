"""The demo chat over one socket: wsapp's TopicConsumer, as a project would use it."""

from __future__ import annotations

from wsapp.rooms import TopicConsumer


class ChatTopicsConsumer(TopicConsumer):
    """``/ws/topics/``: every room of the chat page over one connection (docs/topics.md), with
    the single-room endpoint's (``ChatConsumer``'s) subprotocol and message limit."""

    subprotocols = ["wsapp.v1"]
    max_body_length = 2000
