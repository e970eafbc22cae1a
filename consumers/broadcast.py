"""A bare live room: no history, no login, no presence — every text frame goes to everyone.

The smallest use of wsapp's rooms from an ``async def`` handler, and the endpoint the fan-out
benchmarks compare with Channels' ``group_send`` pattern.
"""

from __future__ import annotations

from wsapp import WebSocket, rooms


async def broadcast_room(ws: WebSocket, room: str) -> None:
    await ws.accept()
    async with rooms.joined(ws, room, presence=False):
        async for text in ws.iter_text():
            await rooms.abroadcast(room, {"type": "message", "body": text})
