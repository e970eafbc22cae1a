"""A raw RFC 6455 client over asyncio streams, for sending what no client library would.

The security and fuzz tests build frames byte by byte (reserved bits, bad opcodes, unmasked or
oversized control frames, thousands of fragments) and read the server's answer: its frames, its
close code, or a dropped TCP. ``scaled()`` stretches every wait by ``WSAPP_TEST_TIMEOUT_FACTOR``
(default 1; raise it on a slow or busy machine), the suite's one timing knob for these tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from tests.support.timing import scaled

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's sample nonce
DEFLATE = "permessage-deflate; client_no_context_takeover"
#: What ``close_code()`` returns when the server dropped the TCP without a close frame.
DROPPED = None


def upgrade_request(path: str, extra_headers: str = "", host: str = "127.0.0.1") -> bytes:
    """A complete websocket upgrade request (``extra_headers`` as ``"Name: value\\r\\n"`` lines)."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    ).encode("latin-1")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x00\x00\x00\x00",
    length: int | None = None,
) -> bytes:
    """One frame as a client sends it (masked with ``mask``; ``None``: unmasked).

    Args:
        rsv: the three reserved bits, 0-7 (4 is RSV1, permessage-deflate's "compressed").
        length: the length to announce, if not ``len(payload)`` (a lie, for fuzzing).
    """
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    bit = 0x80 if mask is not None else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if mask is None:
        return head + payload
    if mask != b"\x00\x00\x00\x00":
        key = (mask * (len(payload) // 4 + 1))[: len(payload)]
        payload = bytes(a ^ b for a, b in zip(payload, key, strict=True))
    return head + mask + payload


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return frame(OP_CLOSE, struct.pack("!H", code) + reason)


def deflated(data: bytes) -> bytes:
    """``data`` compressed as one permessage-deflate message (RFC 7692 §7.2.1)."""
    compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    return body[:-4]


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8")


class RawClient:
    """One TCP connection to the server, spoken to in raw bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.response_head = b""

    @classmethod
    async def connect(cls, host: str, port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=1 << 20), scaled(5)
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), scaled(10))

    async def read_head(self) -> bytes:
        """The server's HTTP response head (up to the blank line)."""
        self.response_head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), scaled(10))
        return self.response_head

    async def read_frame(self, wait: float = 10) -> Frame:
        """The next frame the server sends (servers do not mask).

        Raises:
            asyncio.IncompleteReadError: the server closed the TCP.
        """

        async def read() -> Frame:
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return Frame(bool(first & 0x80), first & 0x0F, await self.reader.readexactly(size))

        return await asyncio.wait_for(read(), scaled(wait))

    async def close_code(self, wait: float = 10) -> tuple[int | None, str]:
        """Read until the server's close frame: its code and reason, or ``(DROPPED, "")``.

        Other frames (echoes, pongs) are skipped. The close is answered, as RFC 6455 asks.
        """
        while True:
            try:
                got = await self.read_frame(wait)
            except (asyncio.IncompleteReadError, ConnectionError):
                return DROPPED, ""
            if got.opcode == OP_CLOSE:
                with contextlib.suppress(ConnectionError):
                    self.writer.write(frame(OP_CLOSE, got.payload[:2]))
                return got.close_code, got.close_reason

    async def closed_by_server(self, wait: float) -> bool:
        """Whether the server ends the TCP within ``wait`` s (whatever it sends first)."""
        try:
            async with asyncio.timeout(scaled(wait)):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def abort(self) -> None:
        self.writer.transport.abort()

    async def aclose(self) -> None:
        """Close our end (idempotent); a server that is gone is no error."""
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), scaled(1))


class RawClients:
    """Opens :class:`RawClient` connections and closes every one of them at the end."""

    def __init__(self) -> None:
        self.clients: list[RawClient] = []

    async def connect(self, host: str, port: int) -> RawClient:
        client = await RawClient.connect(host, port)
        self.clients.append(client)
        return client

    async def websocket(
        self, host: str, port: int, path: str = "/test/echo/", extra_headers: str = ""
    ) -> RawClient:
        client = await self.connect(host, port)
        await client.send(upgrade_request(path, extra_headers))
        head = await client.read_head()
        assert head.startswith(b"HTTP/1.1 101 "), head
        return client

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self.clients))
        self.clients.clear()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
