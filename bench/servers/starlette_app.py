"""Starlette on uvicorn: the echo and a room that is a plain loop over its members' sockets.

The room encodes each text frame once as ``{"type": "message", "body": <the text>}`` (wsapp's
broadcast frame) and writes it to every member, with no channel layer: what a single-process app
can do, and the per-delivery cost wsapp's hub aims for.
"""

from __future__ import annotations

import json
from collections import defaultdict

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

_rooms: defaultdict[str, set[WebSocket]] = defaultdict(set)


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await ws.send_text(message["text"])
        else:
            await ws.send_bytes(message.get("bytes") or b"")


async def room(ws: WebSocket) -> None:
    name = ws.path_params["room"]
    await ws.accept()
    members = _rooms[name]
    members.add(ws)
    try:
        while True:
            frame = json.dumps({"type": "message", "body": await ws.receive_text()})
            for member in list(members):
                await member.send_text(frame)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(ws)


app = Starlette(
    routes=[WebSocketRoute("/ws/echo/", echo), WebSocketRoute("/ws/room/{room}/", room)]
)
