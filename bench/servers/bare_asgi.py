"""A bare ASGI echo, no Channels and no Django: the ceiling of whatever server runs it.

wsapp's ``async def`` handler aims at 0.85× of this on the same server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Echo every frame of ``/ws/echo/``; refuse every other path and protocol."""
    if scope["type"] != "websocket":
        return
    event = await receive()  # websocket.connect
    if scope["path"] != "/ws/echo/":
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] != "websocket.receive":
            return
        if event.get("text") is not None:
            await send({"type": "websocket.send", "text": event["text"]})
        else:
            await send({"type": "websocket.send", "bytes": event.get("bytes") or b""})
