"""The Python floor: a raw ``asyncio.Protocol`` on uvloop speaking just enough RFC 6455.

No framework, no ASGI, no per-connection task: the handshake and each frame are parsed in the
protocol's ``data_received``, masks are removed by ``websockets.speedups.apply_mask`` (C), and a
room's frame is built once and handed to each member's ``transport.write`` — one write per socket.
What is left is the cost any Python WebSocket server pays: the event loop, a callback per read and
a write per delivery. ``/ws/echo/`` and ``/ws/room/<room>/`` as the other baselines (the room
encodes ``{"type": "message", "body": <the text>}``). Run as ``python -m`` with ``--port``.

It accepts what the load client sends (unfragmented frames and fragmented ones, pings, closes)
and is not a server for anything else: no limits, no extensions, no origin checks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
from collections import defaultdict
from typing import cast

from websockets.speedups import apply_mask

from bench.servers._serve import main

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_rooms: defaultdict[str, set[asyncio.Transport]] = defaultdict(set)
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked server frame."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


class Floor(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.room: set[asyncio.Transport] | None = None
        self.upgraded = False
        self.fragments: list[bytes] = []
        self.fragment_opcode = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if self.room is not None and self.transport is not None:
            self.room.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._handshake():
            return
        while self._frame():
            pass

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        path = head[0].split(" ")[1]
        headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        key = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("sec-websocket-key")
        assert self.transport is not None
        if key is None or not (path == "/ws/echo/" or path.startswith("/ws/room/")):
            self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            self.transport.close()
            return False
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest())
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.upgraded = True
        if path.startswith("/ws/room/"):
            self.room = _rooms[path]
            self.room.add(self.transport)
        return True

    def _frame(self) -> bool:
        buf = self.buffer
        if len(buf) < 2:
            return False
        fin, opcode, length = buf[0] & 0x80, buf[0] & 0x0F, buf[1] & 0x7F
        offset = 2
        if length == 126:
            if len(buf) < 4:
                return False
            (length,) = struct.unpack_from("!H", buf, 2)
            offset = 4
        elif length == 127:
            if len(buf) < 10:
                return False
            (length,) = struct.unpack_from("!Q", buf, 2)
            offset = 10
        if len(buf) < offset + 4 + length:
            return False
        mask = bytes(buf[offset : offset + 4])
        payload = apply_mask(bytes(buf[offset + 4 : offset + 4 + length]), mask)
        del buf[: offset + 4 + length]
        self._message(fin, opcode, payload)
        return True

    def _message(self, fin: int, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode in (TEXT, BINARY) and not fin:
            self.fragment_opcode, self.fragments = opcode, [payload]
            return
        if opcode == 0:
            self.fragments.append(payload)
            if not fin:
                return
            opcode, payload = self.fragment_opcode, b"".join(self.fragments)
            self.fragments = []
        if opcode == PING:
            self.transport.write(frame(PONG, payload))
        elif opcode == CLOSE:
            self.transport.write(frame(CLOSE, payload[:2]))
            self.transport.close()
        elif self.room is None:
            self.transport.write(frame(opcode, payload))
        elif opcode == TEXT:
            data = frame(TEXT, json.dumps({"type": "message", "body": payload.decode()}).encode())
            for member in list(self.room):
                member.write(data)


async def start(port: int) -> asyncio.AbstractServer:
    return await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port, backlog=4096)


if __name__ == "__main__":
    main(start, __doc__)
