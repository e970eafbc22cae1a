"""Frames a socket gets in one loop tick, joined into one write at the tick's end.

A flooded room gives each member several frames per tick (the hub delivers every message it has
without yielding): one ``send()`` each costs a syscall and, on loopback, the receiver's wakeup,
per frame. Held until the tick ends, they go as one ``send()``. Order is kept because a socket
only starts collecting when Twisted holds nothing for it, everything it is sent afterwards joins
the collection (or, on any other path, flushes it first), and a close flushes it before the
transport is let go. A collection over ``MAX_HELD`` bytes is written at once, so an application
that sends without ever yielding still meets ``MAX_SEND_BUFFER``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from wsapp.server.buffers import send_now, writable_now

#: Bytes a socket's collection may hold before it is written without waiting for the tick's end.
MAX_HELD = 64 * 1024


class TickWriter:
    """One process's collections: transport → the frames it was given this tick."""

    __slots__ = ("_held", "_scheduled", "_sizes")

    def __init__(self) -> None:
        self._held: dict[Any, list[bytes]] = {}
        self._sizes: dict[Any, int] = {}
        self._scheduled = False

    def write(self, transport: Any, data: bytes) -> bool:
        """Hold ``data`` for ``transport`` until the tick ends; ``False`` when the caller must
        write through Twisted instead (something is buffered there already, or not TCP)."""
        held = self._held.get(transport)
        if held is None:
            if not writable_now(transport):
                return False
            if not self._scheduled:
                try:
                    asyncio.get_running_loop().call_soon(self.flush_all)
                except RuntimeError:  # outside the loop (start-up, shutdown): no tick to wait for
                    send_now(transport, data)
                    return True
                self._scheduled = True
            self._held[transport], self._sizes[transport] = [data], len(data)
            return True
        held.append(data)
        self._sizes[transport] += len(data)
        if self._sizes[transport] > MAX_HELD:
            self.flush(transport)
        return True

    def held_bytes(self, transport: Any) -> int:
        return self._sizes.get(transport, 0)

    def flush(self, transport: Any) -> None:
        """Write what ``transport`` holds now: before any other write to it, and before a close."""
        held = self._held.pop(transport, None)
        self._sizes.pop(transport, None)
        if held:
            send_now(transport, held[0] if len(held) == 1 else b"".join(held))

    def flush_all(self) -> None:
        self._scheduled = False
        held, self._held, self._sizes = self._held, {}, {}
        for transport, frames in held.items():
            send_now(transport, frames[0] if len(frames) == 1 else b"".join(frames))
