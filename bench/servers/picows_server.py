"""picows on uvloop: the C frame path reference (frames parsed and built in Cython).

``/ws/echo/`` echoes every text and binary frame; ``/ws/room/<room>/`` encodes each text frame
once as ``{"type": "message", "body": <the text>}`` (wsapp's broadcast frame) and writes those
bytes to every member's transport, no layer: how fast a Python process can fan out when nothing
but the write itself is paid per delivery. Run as ``python -m`` with ``--port``.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.servers._serve import main

_rooms: defaultdict[str, set[WSTransport]] = defaultdict(set)


class Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview())
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


class Room(WSListener):
    def __init__(self, name: str) -> None:
        self.members = _rooms[name]

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.members.add(transport)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.members.discard(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            body = frame.get_payload_as_utf8_text()
            data = json.dumps({"type": "message", "body": body}).encode()
            for member in list(self.members):
                member.send(WSMsgType.TEXT, data)
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


def listener_for(request: WSUpgradeRequest) -> WSListener | None:
    path = request.path.decode()
    if path == "/ws/echo/":
        return Echo()
    if path.startswith("/ws/room/") and path.endswith("/"):
        return Room(path)
    return None  # picows answers 404


async def start(port: int) -> asyncio.AbstractServer:
    return await ws_create_server(listener_for, "127.0.0.1", port, max_frame_size=2**20)


if __name__ == "__main__":
    main(start, __doc__)
