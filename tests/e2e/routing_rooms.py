"""The demo's websocket routes plus ``ws/rooms/``: a socket that joins rooms at run time.

For tests/e2e/test_rooms_cluster.py (``WSAPP["ROUTING"] = "tests.e2e.routing_rooms"``): a
client joins the rooms of ``?rooms=a,b`` (``&presence=0``: without presence), then drives the
rooms API of the process it is connected to with JSON commands, each answered by one frame:

- ``{"do": "join" | "leave", "room": r}`` → ``{"type": "join" | "leave", "room": r}``
- ``{"do": "active"}`` → ``{"type": "active", "rooms": rooms.aactive()}``
- ``{"do": "online", "room": r}`` → ``{"type": "online", "users": rooms.aonline(r)}``
- ``{"do": "fanout", "text": t}`` → ``wsapp.broadcast`` of ``t`` to every ``ws/rooms/`` socket
  of this process, then ``{"type": "fanned", "queued": n}`` to the sender; with ``"times": k``
  and ``"others": true``, ``k`` calls in a row (no await between) to the other sockets only
  (``"size": n`` instead of ``"text"``: ``n`` times ``"x"``, more than a client may send;
  ``"yield": true``: a short sleep after each call, so each frame reaches the server first).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import wsapp
from config.routing import urlpatterns as demo_urlpatterns
from wsapp import WebSocket, rooms
from wsapp.routing import path

#: This process's ``ws/rooms/`` sockets (the set ``wsapp.broadcast`` is given).
SOCKETS: set[WebSocket] = set()


async def member(ws: WebSocket) -> None:
    await ws.accept()
    presence = ws.query_params.get("presence") != "0"
    joined = [r for r in ws.query_params.get("rooms", "").split(",") if r]
    for room in joined:
        await rooms.join(ws, room, presence=presence)
    SOCKETS.add(ws)
    try:
        await ws.send_json({"type": "joined", "rooms": joined})
        async for text in ws.iter_text():
            await ws.send_json(await _answer(ws, json.loads(text), presence))
    finally:
        SOCKETS.discard(ws)


async def _answer(ws: WebSocket, command: dict[str, Any], presence: bool) -> dict[str, Any]:
    action = command["do"]
    if action == "join":
        await rooms.join(ws, command["room"], presence=presence)
    elif action == "leave":
        await rooms.leave(ws, command["room"])
    elif action == "active":
        return {"type": "active", "rooms": await rooms.aactive()}
    elif action == "online":
        return {"type": "online", "users": await rooms.aonline(command["room"])}
    elif action == "fanout":
        targets = [s for s in SOCKETS if s is not ws] if command.get("others") else list(SOCKETS)
        text = command["text"] if "text" in command else "x" * command["size"]
        queued = 0
        for _ in range(command.get("times", 1)):
            queued += wsapp.broadcast(targets, text)
            if command.get("yield"):
                await asyncio.sleep(0.01)  # the writers hand each frame to the server first
        return {"type": "fanned", "queued": queued}
    return {"type": action, "room": command.get("room")}


urlpatterns = [*demo_urlpatterns, path("ws/rooms/", member, name="rooms-member")]
