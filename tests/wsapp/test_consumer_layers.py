"""A Consumer that opts in to Channels-style layer events: groups and @layer_event handlers."""

from __future__ import annotations

from typing import Any

import pytest
from channels.layers import get_channel_layer

from wsapp import Consumer, event, layer_event
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient


class News(Consumer):
    groups = ["news"]

    @layer_event("news.item")
    async def news_item(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "news", "title": message["title"]})

    @event("news.publish")
    async def publish(self, content: dict[str, Any]) -> None:
        await self.group_send("news", {"type": "news.item", "title": content["title"]})


class Plain(Consumer):
    @event("ping")
    async def ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "channel": getattr(self, "channel_name", None)})


@pytest.fixture
def client() -> AsyncWebSocketClient:
    return AsyncWebSocketClient(Router([path("news/", News), path("plain/", Plain)]))


async def test_group_messages_reach_layer_event_methods(client) -> None:
    reader = await client.websocket_connect("/news/").connect()
    writer = await client.websocket_connect("/news/").connect()
    await writer.send_json({"type": "news.publish", "title": "hello"})
    assert await reader.receive_json() == {"type": "news", "title": "hello"}
    assert await writer.receive_json() == {"type": "news", "title": "hello"}
    await reader.close()
    await writer.close()


async def test_a_client_cannot_call_a_layer_event(client) -> None:
    ws = await client.websocket_connect("/news/").connect()
    await ws.send_json({"type": "news.item", "title": "forged"})
    reply = await ws.receive_json()
    assert (reply["type"], reply["code"]) == ("error", "unknown_type")
    await ws.close()


async def test_the_channel_leaves_its_groups_on_disconnect(client) -> None:
    ws = await client.websocket_connect("/news/").connect()
    layer = get_channel_layer()
    assert len(layer.groups["news"]) == 1
    await ws.close()
    assert len(layer.groups.get("news", {})) == 0


async def test_consumers_that_do_not_opt_in_get_no_channel(client) -> None:
    ws = await client.websocket_connect("/plain/").connect()
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json() == {"type": "pong", "channel": None}
    await ws.close()
