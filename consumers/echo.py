"""Echo endpoints: the smallest useful handlers, and what the benchmarks measure."""

from __future__ import annotations

from typing import Any

from wsapp import Consumer, WebSocket, event


async def echo(ws: WebSocket) -> None:
    """Send every text and binary frame back unchanged, empty ones included."""
    await ws.accept()
    async for message in ws:
        await ws.send(message)


class JsonEcho(Consumer):
    """The class-based twin: ``{"type": "echo", ...}`` comes back as it was sent."""

    @event("echo")
    async def echo(self, content: dict[str, Any]) -> None:
        await self.send_json(content)


json_echo = JsonEcho
