"""A message's wire frame, built once per process however many sockets it goes to.

autobahn's ``sendMessage`` builds the frame (header, length, payload copy) again for every
socket, so a broadcast to a thousand members encodes a thousand times. The hub hands every
member the *same* ``text`` object, so the server keeps the last frame it built with the object
it built it from: the next socket sent that very object gets the same bytes. Identity, not
equality, decides (comparing would cost what it saves), and the entry holds the object, so its
identity cannot be reused while cached. Only uncompressed sockets share frames: with
permessage-deflate each socket's compressor has its own context (see BENCHMARKS.md).
"""

from __future__ import annotations

import struct

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
_FIN = 0x80
_LENGTH_16 = struct.Struct("!BBH")
_LENGTH_64 = struct.Struct("!BBQ")


def encode_frame(payload: bytes, binary: bool) -> bytes:
    """One unfragmented, unmasked frame (a server's, RFC 6455 §5.2) carrying ``payload``."""
    first = _FIN | (OPCODE_BINARY if binary else OPCODE_TEXT)
    length = len(payload)
    if length < 126:
        return bytes((first, length)) + payload
    if length < 1 << 16:
        return _LENGTH_16.pack(first, 126, length) + payload
    return _LENGTH_64.pack(first, 127, length) + payload


class FrameCache:
    """The last frame built and the ``str``/``bytes`` object it carries.

    Mutable payloads (``bytearray``, ``memoryview``) are never cached: the same object may
    carry other bytes next time. Neither are frames over ``MAX_CACHED`` bytes, so the cache
    never pins more than that.
    """

    MAX_CACHED = 64 * 1024

    __slots__ = ("_frame", "_source")

    def __init__(self) -> None:
        self._source: object = None
        self._frame = b""

    def frame(self, source: str | bytes | bytearray | memoryview) -> bytes:
        """``source``'s frame: the cached one if ``source`` is the object it was built from."""
        if source is self._source:
            return self._frame
        if isinstance(source, str):
            frame = encode_frame(source.encode("utf-8"), binary=False)
        else:
            frame = encode_frame(bytes(source), binary=True)
        if isinstance(source, str | bytes) and len(frame) <= self.MAX_CACHED:
            self._source, self._frame = source, frame
        return frame
