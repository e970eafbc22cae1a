"""BlackSheep's documented WebSocket examples, ported.

Originals: Neoteroi/BlackSheep-Docs ``docs/websocket.md`` (routes with parameters, ``accept()``
with headers and a subprotocol, the text/bytes/JSON echoes, ``WebSocketDisconnectError``) and
the chat it links, Neoteroi/BlackSheep-Examples ``websocket-chat/app/{main,connection,message}.py``.
Routed under ``/blacksheep/``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from wsapp import WebSocket, WebSocketDisconnect, rooms
from wsapp.routing import path

BLACKSHEEP_CHAT = "blacksheep-chat"


async def echo_text(ws: WebSocket) -> None:
    """The "Text" echo: ``while True`` ends when ``receive_text()`` raises on the client's
    close, which wsapp treats as the end of a handler, not as an error."""
    await ws.accept()
    while True:
        msg = await ws.receive_text()
        await ws.send_text(msg)


async def echo_bytes(ws: WebSocket) -> None:
    """The "Bytes" echo."""
    await ws.accept()
    while True:
        msg = await ws.receive_bytes()
        await ws.send_bytes(msg)


async def echo_json(ws: WebSocket) -> None:
    """The "JSON" echo."""
    await ws.accept()
    while True:
        msg = await ws.receive_json()
        await ws.send_json(msg)


async def custom_accept(ws: WebSocket) -> None:
    """ "Accepting the connection": response headers as pairs of bytes, and a subprotocol."""
    await ws.accept(headers=[(b"x-custom-header", b"custom-value")], subprotocol="custom-protocol")
    await ws.send_text(f"subprotocol: {ws.subprotocol}")
    await ws.close()


async def client_id_handler(ws: WebSocket, client_id: str) -> None:
    """ "Creating a WebSocket route": ``/ws/{client_id}`` arrives as the ``client_id`` argument."""
    await ws.accept()
    await ws.send_text(f"Hello, {client_id}")
    await ws.close()


@dataclasses.dataclass
class Message:
    """websocket-chat/app/message.py."""

    author: str
    text: str
    timestamp: str

    def asdict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def server_message(text: str) -> dict[str, Any]:
    return Message(author="Server", timestamp=datetime.now().isoformat(), text=text).asdict()


async def chat(ws: WebSocket, client_id: str) -> None:
    """websocket-chat/app/main.py with its ``ConnectionManager``: ``active_connections`` is a
    room (on every process), ``broadcast`` a room broadcast. ``greet`` reaches everyone but the
    newcomer (the original greets before adding it to the list; a broadcast is delivered
    asynchronously, so the port excludes it by name) and ``bye`` goes out after leaving.

    A frame that is not a ``Message`` (``Message(**data)`` raises ``TypeError``; bad JSON is an
    ``InvalidPayload``, a ``ValueError``) is answered with an error and the chat goes on, where
    the original's handler died.
    """
    await ws.accept()
    greeting = server_message(f"{client_id} enters the chat")
    await rooms.abroadcast(BLACKSHEEP_CHAT, greeting, exclude=[ws])
    async with rooms.joined(ws, BLACKSHEEP_CHAT):
        try:
            while True:
                try:
                    message = Message(**await ws.receive_json())
                except (TypeError, ValueError) as exc:
                    await ws.send_json({"error": f"Not a chat message: {exc}"})
                    continue
                await rooms.abroadcast(BLACKSHEEP_CHAT, message.asdict())
        except WebSocketDisconnect:
            pass  # manager.disconnect(conn): leaving the block leaves the room
    await rooms.abroadcast(BLACKSHEEP_CHAT, server_message(f"{client_id} disconnected"))


#: Many rooms over one socket, where the chat above opens one socket per room: BlackSheep's
#: documentation has no example of it; wsapp's is ``rooms.TopicConsumer`` (docs/topics.md).
topic_routes = [path("topics/", rooms.TopicConsumer)]


urlpatterns = [
    *topic_routes,
    path("ws/text/", echo_text),
    path("ws/bytes/", echo_bytes),
    path("ws/json/", echo_json),
    path("ws/accept/", custom_accept),
    path("ws/<str:client_id>/", client_id_handler),
    path("chat/<str:client_id>/", chat),
]
