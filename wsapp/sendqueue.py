"""Frames handed to one socket without an ``await`` (``wsapp.broadcast``), written in order.

websockets' ``broadcast()`` writes to each transport at once, so a frame broadcast before a
handler's own ``await ws.send(...)`` reaches the client first. An ASGI send is a coroutine, so
here the frames wait in the socket's queue for one writer task; the connection's own sends wait
for that queue to drain first, which keeps the order a websockets user relies on.

The queue is bounded by ``WSAPP["MAX_SEND_BUFFER"]`` as ``serve``'s own buffer is: a frame that
would take it past the limit (beyond the one being written) drops what is queued and closes the
socket with 1013 ``"send buffer full"``, so a stalled peer never holds an unbounded queue here.
Under ``serve``, which takes frames without an ``await``, a frame with nothing queued ahead of it
skips the queue (``send_frame_nowait``): the hub's fan-out writes each member's frame that way.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable

from wsapp.codes import CloseCode
from wsapp.exceptions import InvalidStateError, WebSocketDisconnect
from wsapp.types import Message

#: The close reason of a socket whose queue outgrew ``MAX_SEND_BUFFER`` (as ``serve`` says it).
SEND_BUFFER_REASON = "send buffer full"


class SendQueue:
    """One socket's queued frames, their bytes, and its writer task while it runs.

    Args:
        write: sends one frame now (the connection's send, without waiting for this queue).
        overflow: closes the socket once its queue has outgrown the limit.
    """

    __slots__ = ("_write", "_overflow", "_frames", "queued", "_task", "overflowed")

    def __init__(
        self,
        write: Callable[[Message], Awaitable[None]],
        overflow: Callable[[], Awaitable[None]],
    ) -> None:
        self._write = write
        self._overflow = overflow
        self._frames: collections.deque[tuple[Message, int]] = collections.deque()
        #: Bytes queued and not yet handed to the server.
        self.queued = 0
        self._task: asyncio.Task[None] | None = None
        self.overflowed = False

    @property
    def busy(self) -> bool:
        """Whether frames are queued or being written."""
        return self._task is not None

    def put(self, frame: Message, size: int, limit: int) -> bool:
        """Queue ``frame`` (``size`` bytes); ``False`` if it was not (the queue overflowed now or
        before, and the socket is being closed)."""
        if self.overflowed:
            return False
        if self._frames and self.queued + size > limit:
            self._frames.clear()
            self.queued = 0
            self.overflowed = True
        else:
            self._frames.append((frame, size))
            self.queued += size
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return not self.overflowed

    async def drain(self) -> None:
        """Wait until everything queued so far has been written (or dropped)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._frames:
                frame, size = self._frames[0]
                try:
                    await self._write(frame)
                except (WebSocketDisconnect, InvalidStateError, OSError):  # gone: nothing to say
                    self._frames.clear()
                    self.queued = 0
                    break
                if self._frames and self._frames[0][0] is frame:
                    self._frames.popleft()
                    self.queued -= size
            if self.overflowed:
                await self._overflow()
        finally:
            self._task = None


class SoonMethods:
    """``WebSocket``'s unawaited sends (the connection holds ``_soon`` and drains it before
    its own sends and its close)."""

    _soon: SendQueue | None
    _write_frame: Callable[[Message], Awaitable[None]]
    _write_now: Callable[[Message], None] | None
    _check_sendable: Callable[[], None]
    _sent: Callable[[int], None]
    close: Callable[..., Awaitable[None]]

    def send_frame_nowait(self, message: Message, size: int) -> bool:
        """Write a ``websocket.send`` event of ``size`` payload bytes now, if the server takes
        frames directly (:data:`~wsapp.types.SEND_EXTENSION`) and nothing handed over earlier
        is queued ahead of it; ``False``: await ``send_frame`` instead. The hub's fan-out: a
        broadcast to a thousand members would cost a thousand coroutines per message.

        Raises:
            WebSocketDisconnect: the peer is gone.
            InvalidStateError: not accepted yet, or closed.
        """
        if self._write_now is None or (self._soon is not None and self._soon.busy):
            return False
        self._check_sendable()
        self._write_now(message)
        self._sent(size)
        return True

    def send_soon(self, message: Message, size: int, limit: int) -> bool:
        """Queue an ASGI send event without awaiting (``wsapp.broadcast``): written in order,
        before any frame sent after it; ``False`` if the queue, past ``limit`` bytes, was
        dropped and the socket is being closed with 1013."""
        if self._soon is None:
            self._soon = SendQueue(self._write_frame, self._overflowed)
        return self._soon.put(message, size, limit)

    @property
    def queued_bytes(self) -> int:
        """Bytes :meth:`send_soon` holds, not yet handed to the server."""
        return self._soon.queued if self._soon is not None else 0

    async def _overflowed(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, InvalidStateError, OSError):
            await self.close(CloseCode.TRY_AGAIN_LATER, SEND_BUFFER_REASON)
