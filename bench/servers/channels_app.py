"""Plain Channels, written the way its documentation teaches: the anchor wsapp must beat.

``/ws/echo/`` is an ``AsyncWebsocketConsumer``, ``/ws/json-echo/`` an
``AsyncJsonWebsocketConsumer``, and ``/ws/room/<room>/`` the tutorial's chat pattern: every
consumer joins the room's group, a received text frame is ``group_send`` to the group and every
consumer encodes ``{"type": "message", "body": <the text>}`` to JSON for its own socket — the
same frame wsapp's ``/ws/broadcast/<room>/`` sends, there encoded once per broadcast.
"""

from __future__ import annotations

import json
import os
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.servers.channels_settings")
django.setup()

from channels.generic.websocket import (  # noqa: E402  (needs django.setup() first)
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class EchoConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Every text and binary frame back unchanged."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class JsonEchoConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Every JSON message back as JSON, decoded and encoded by Channels."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json(content)


class RoomConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """The Channels tutorial's chat room: one group, one ``group_send`` per message, and one
    ``json.dumps`` per member (each consumer's ``chat_message`` encodes for its own socket)."""

    async def connect(self) -> None:
        self.group = "room." + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(
                self.group, {"type": "room.message", "body": text_data}
            )

    async def room_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "message", "body": event["body"]}))


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/echo/", EchoConsumer.as_asgi()),
                path("ws/json-echo/", JsonEchoConsumer.as_asgi()),
                path("ws/room/<str:room>/", RoomConsumer.as_asgi()),
            ]
        )
    }
)
