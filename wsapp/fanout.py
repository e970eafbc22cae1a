"""``wsapp.broadcast(sockets, message)``: one message to any set of this process's sockets.

The twin of websockets' ``broadcast()``, for a set the application keeps itself (a game's
players, a dashboard's viewers) rather than a room: a plain function, no ``await``, the frame
built (and its size measured) once and written to each socket that is open. The writes are
handed to the running loop: each socket has at most one writer task, which sends what was queued
for it in order and ends when the queue is empty, so a call costs no task per socket beyond the
first message waiting for it, and a thousand calls in a row cost no more tasks than one.

A slow socket is the send-buffer policy's (``WSAPP["MAX_SEND_BUFFER"]``): under ``manage.py
serve`` the server closes a client that does not read its bytes with 1013; and the bytes queued
here for a socket but not yet handed to the server count as unsent too — over the limit (beyond
the one frame being written) the socket's queue is dropped and it is closed with 1013
``"send buffer full"``, so a stalled peer never holds an unbounded queue in this process.

Rooms across processes are :mod:`wsapp.rooms` (``broadcast``, ``broadcast_raw``); this reaches
only local ``WebSocket`` objects.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable
from typing import Any

from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.exceptions import InvalidStateError, WebSocketDisconnect
from wsapp.lifecycle import close_quietly
from wsapp.limits import payload_size

#: The close reason of a socket whose queue outgrew ``MAX_SEND_BUFFER`` (as ``serve`` says it).
SEND_BUFFER_REASON = "send buffer full"


class _Outbox:
    """Frames queued for one socket, their bytes, and its writer task while it runs."""

    __slots__ = ("frames", "queued", "task", "overflowed")

    def __init__(self) -> None:
        self.frames: collections.deque[tuple[dict[str, Any], int]] = collections.deque()
        self.queued = 0
        self.task: asyncio.Task[None] | None = None
        self.overflowed = False


#: Sockets with frames waiting (or their writer still finishing). An entry goes with its task.
_outboxes: dict[WebSocket, _Outbox] = {}


def broadcast(sockets: Iterable[WebSocket], message: str | bytes) -> int:
    """Send ``message`` to every open socket in ``sockets``: a ``str`` as a text frame, bytes
    as a binary one, unchanged. Sockets not accepted yet or closed are skipped, as are those a
    write then finds gone. Call it from the event loop's thread (any ``async def`` code); from
    synchronous code, use ``rooms.broadcast`` to a room.

    Each socket gets the frames of successive calls in the order of the calls. A frame written
    by the handler itself (``await ws.send_text``) is not ordered against them.

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
    loop = asyncio.get_running_loop()
    limit = int(get_settings()["MAX_SEND_BUFFER"])
    queued = 0
    for ws in sockets:
        if not ws.open:
            continue
        outbox = _outboxes.get(ws)
        if outbox is None:
            outbox = _outboxes[ws] = _Outbox()
        if outbox.overflowed:
            continue  # being closed for a queue it did not drain
        if outbox.frames and outbox.queued + size > limit:
            outbox.frames.clear()
            outbox.queued = 0
            outbox.overflowed = True
        else:
            outbox.frames.append((frame, size))
            outbox.queued += size
            queued += 1
        if outbox.task is None:
            outbox.task = loop.create_task(_write(ws, outbox))
    return queued


async def _write(ws: WebSocket, outbox: _Outbox) -> None:
    """Send ``ws``'s queued frames in order; close it if its queue overflowed; then go."""
    try:
        while outbox.frames:
            frame, size = outbox.frames[0]
            try:
                await ws.send_frame(frame)
            except (WebSocketDisconnect, InvalidStateError, OSError, RuntimeError):
                outbox.frames.clear()
                break
            if outbox.frames and outbox.frames[0][0] is frame:
                outbox.frames.popleft()
                outbox.queued -= size
        if outbox.overflowed:
            await close_quietly(ws, CloseCode.TRY_AGAIN_LATER, SEND_BUFFER_REASON)
    except InvalidStateError:
        pass  # closed meanwhile: nothing left to say
    finally:
        outbox.task = None
        if _outboxes.get(ws) is outbox:
            del _outboxes[ws]


def pending(ws: WebSocket) -> int:
    """Bytes queued for ``ws`` by :func:`broadcast` and not yet handed to the server."""
    outbox = _outboxes.get(ws)
    return outbox.queued if outbox is not None else 0


__all__ = ["broadcast", "pending", "SEND_BUFFER_REASON"]
