"""``wsapp.broadcast(sockets, message)``: one message to any set of this process's sockets.

The twin of websockets' ``broadcast()``, for a set the application keeps itself (a game's
players, a dashboard's viewers) rather than a room: a plain function, no ``await``, the frame
built (and its size measured) once and written to each socket that is open. Each socket's
frames wait in its own :class:`~wsapp.sendqueue.SendQueue` for one writer task, and the socket's
own sends (and its close) wait for that queue first, so a client sees the frames in the order the
code sent them, as with websockets; a thousand calls in a row cost no more tasks than one.

A slow socket is the send-buffer policy's (``WSAPP["MAX_SEND_BUFFER"]``): under ``manage.py
serve`` the server closes a client that does not read its bytes with 1013, and bytes queued
here but not yet handed to the server count too (over the limit the queue is dropped and the
socket closed with 1013 ``"send buffer full"``).

Rooms across processes are :mod:`wsapp.rooms` (``broadcast``, ``broadcast_raw``); this reaches
only local ``WebSocket`` objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.limits import payload_size
from wsapp.sendqueue import SEND_BUFFER_REASON


def broadcast(sockets: Iterable[WebSocket], message: str | bytes) -> int:
    """Send ``message`` to every open socket in ``sockets``: a ``str`` as a text frame, bytes
    as a binary one, unchanged. Sockets not accepted yet or closed are skipped, as are those a
    write then finds gone. Call it from the event loop's thread (any ``async def`` code); from
    synchronous code, use ``rooms.broadcast`` to a room.

    Each socket gets the frames in the order they were sent, these and its handler's own
    (``await ws.send_text`` after a ``broadcast`` waits for the broadcast's frame).

    Returns:
        How many sockets the message was queued for.

    Raises:
        TypeError: ``message`` is neither ``str`` nor bytes.
        ValueError: the text is not UTF-8 (a lone surrogate); nothing was queued.
        RuntimeError: no event loop is running in this thread.
    """
    frame: dict[str, Any]
    if isinstance(message, str):
        frame = {"type": "websocket.send", "text": message}
    elif isinstance(message, bytes | bytearray | memoryview):
        frame = {"type": "websocket.send", "bytes": bytes(message)}
    else:
        raise TypeError(f"broadcast() sends str or bytes, not {type(message).__name__}")
    size = payload_size(frame)  # once for every socket; raises for text that is not UTF-8
    asyncio.get_running_loop()  # the writers run on it: refuse a call from another thread
    limit = int(get_settings()["MAX_SEND_BUFFER"])
    return sum(1 for ws in sockets if ws.open and ws.send_soon(frame, size, limit))


def pending(ws: WebSocket) -> int:
    """Bytes queued for ``ws`` by :func:`broadcast` and not yet handed to the server."""
    return ws.queued_bytes


__all__ = ["broadcast", "pending", "SEND_BUFFER_REASON"]
