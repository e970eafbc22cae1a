"""A message's wire frame, built once per process however many sockets it goes to.

autobahn's ``sendMessage`` builds the frame (header, length, payload copy) again for every
socket, so a broadcast to a thousand members encodes a thousand times. The hub hands every
member the *same* ``text`` object, so the server keeps the last frame it built with the object
it built it from: the next socket sent that very object gets the same bytes. Identity, not
equality, decides (comparing would cost what it saves), and the entry holds the object, so its
identity cannot be reused while cached.

With permessage-deflate a socket's compressor normally carries its context from one message to
the next, so its frames are its own. A socket that agreed ``server_no_context_takeover``
compresses each message from a fresh context: its compressed frame depends only on the payload,
the window and the memory level, and is shared like a plain one (:meth:`FrameCache.deflated`,
the bytes autobahn's ``PerMessageDeflate`` would produce).
"""

from __future__ import annotations

import struct
import zlib

OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
_FIN = 0x80
_RSV1 = 0x40  # RFC 7692 §6: the first frame of a compressed message
# RFC 7692 §7.2.1: a compressed message ends without the sync flush's empty block.
_SYNC_TAIL = 4
_LENGTH_16 = struct.Struct("!BBH")
_LENGTH_64 = struct.Struct("!BBQ")


def encode_frame(payload: bytes, binary: bool, *, compressed: bool = False) -> bytes:
    """One unfragmented, unmasked frame (a server's, RFC 6455 §5.2) carrying ``payload``."""
    first = _FIN | (_RSV1 if compressed else 0) | (OPCODE_BINARY if binary else OPCODE_TEXT)
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

    __slots__ = ("_deflated", "_deflated_params", "_deflated_source", "_frame", "_source")

    def __init__(self) -> None:
        self._source: object = None
        self._frame = b""
        self._deflated_source: object = None
        self._deflated_params = (0, 0)  # (window_bits, mem_level) it was compressed with
        self._deflated = b""

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

    def deflated(
        self, source: str | bytes | bytearray | memoryview, window_bits: int, mem_level: int
    ) -> bytes:
        """``source``'s frame compressed from a fresh context (``server_no_context_takeover``)
        with ``window_bits`` and ``mem_level``: the cached one if it was built from the same
        object with the same two."""
        if source is self._deflated_source and self._deflated_params == (window_bits, mem_level):
            return self._deflated
        text = isinstance(source, str)
        payload = source.encode("utf-8") if isinstance(source, str) else bytes(source)
        compressor = zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits, mem_level
        )
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        frame = encode_frame(data[:-_SYNC_TAIL], binary=not text, compressed=True)
        if isinstance(source, str | bytes) and len(frame) <= self.MAX_CACHED:
            self._deflated_source, self._deflated = source, frame
            self._deflated_params = (window_bits, mem_level)
        return frame
