"""A raw ``websockets`` server: the pure-Python ceiling, run as ``python -m`` with ``--port``.

``/ws/echo/`` echoes; ``/ws/room/<room>/`` encodes each text frame once as
``{"type": "message", "body": <the text>}`` (wsapp's broadcast frame) and ``broadcast``s it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

_rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request else ""
    if path == "/ws/echo/":
        async for message in ws:
            await ws.send(message)
    elif path.startswith("/ws/room/"):
        members = _rooms[path]
        members.add(ws)
        try:
            async for message in ws:
                if isinstance(message, str):
                    broadcast(members, json.dumps({"type": "message", "body": message}))
        finally:
            members.discard(ws)
    else:
        await ws.close(1008, "no such path")


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    # The load client never offers compression; messages up to 1 MiB, as Daphne by default.
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**20):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
