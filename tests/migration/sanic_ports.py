"""Sanic's documented WebSocket examples, ported.

Originals: sanic-org/sanic ``guide/content/en/guide/advanced/websockets.md`` (the ``/feed``
handler, its ``async for`` form) and ``examples/websocket.py``; the channel feed of the guide's
"websocket feed" how-to (gist ahopkins/5b6d380560d8e9d49e25281ff964ed81: one Redis pub/sub
channel per ``/feed/<channel_name>``). Routed under ``/sanic/``.
"""

from __future__ import annotations

from wsapp import WebSocket, rooms
from wsapp.routing import path


async def feed(ws: WebSocket) -> None:
    """The guide's handler: send "hello!", then wait for the client's answer, for ever.

    Sanic's ``ws.recv()`` is ``receive_text()`` here; when the client leaves it raises
    ``WebSocketDisconnect``, which ends the handler quietly (the peer is gone: nothing to close).
    """
    await ws.accept()
    while True:
        await ws.send("hello!")
        await ws.receive_text()


async def feed_iter(ws: WebSocket) -> None:
    """The guide's ``async for msg in ws`` form (Sanic 22.9): text and bytes, sent back as is."""
    await ws.accept()
    async for msg in ws:
        await ws.send(msg)


async def channel_feed(ws: WebSocket, channel_name: str) -> None:
    """The how-to's channel feed: what one client sends, every client of the channel gets.

    The gist's ``Channel`` (a Redis pub/sub subscription per channel, a set of clients, a lock,
    a receiver task) is a room: the hub subscribes each process once, whatever the number of
    clients, and a raw broadcast sends the frame unchanged, text or bytes.
    """
    await ws.accept()
    async with rooms.joined(ws, channel_name):
        async for message in ws:
            await rooms.abroadcast_raw(channel_name, message)


urlpatterns = [
    path("feed/", feed),
    path("feed-iter/", feed_iter),
    path("feed/<slug:channel_name>/", channel_feed),
]
