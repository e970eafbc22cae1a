"""Noticing that the peer left while a handler only sends: one ``receive()`` read ahead.

An ASGI server tells the application of a disconnect through ``receive()`` only. Plain Daphne
(and the in-process test client) silently drop a send after the client has gone, so a handler
that never receives (``while True: await ws.send_text(...); await asyncio.sleep(1)``) would
loop until the server kills it, its ``finally`` never run in time. :class:`ReadAhead` keeps at
most one ``receive()`` in flight on the handler's behalf while nothing else is receiving:

- it starts on the second send in a row with no receive in between (so an echo handler, which
  alternates, never pays for it), and when a handler waits for the close or for a pong;
- a disconnect it reads is handed to the connection at once (which then raises
  ``WebSocketDisconnect`` from the next send); a pong is handed over too, and reading goes on;
- a data frame it reads is kept, unread, for the handler's next ``receive()``: one message at
  most, so the server's own back-pressure (``MAX_QUEUE``) still holds. The disconnect is then
  behind it, out of reach; a server with the :data:`~wsapp.types.DISCONNECT_EXTENSION`
  (``manage.py serve``) is asked directly instead, at each send while the frame waits;
- the connection cancels it when it closes, so no task outlives the connection.

A frame costs one attribute check on send; the task exists only for handlers that send
without receiving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wsapp.types import PONG_EVENT, Message, Receive

__all__ = ["ReadAhead"]

#: Sends in a row, with nobody receiving, after which the next event is read ahead.
SENDS_BEFORE_READ_AHEAD = 2


class ReadAhead:
    """At most one ``receive()`` in flight for a connection whose handler is not receiving.

    Args:
        receive: the ASGI ``receive`` callable.
        on_disconnect: given the ``websocket.disconnect`` event read ahead; reading stops.
        on_pong: given the payload of a ``wsapp.pong`` read ahead; reading goes on.
        probe: the server's disconnect probe (:data:`~wsapp.types.DISCONNECT_EXTENSION`), if any.
    """

    __slots__ = ("_on_disconnect", "_on_pong", "_probe", "_receive", "receiving", "sends", "task")

    def __init__(
        self,
        receive: Receive,
        on_disconnect: Callable[[Message], None],
        on_pong: Callable[[bytes], None],
        probe: Callable[[], Message | None] | None = None,
    ) -> None:
        self._receive = receive
        self._on_disconnect = on_disconnect
        self._on_pong = on_pong
        self._probe = probe
        self.task: asyncio.Task[Message] | None = None
        self.receiving = False
        self.sends = 0

    async def pull(self) -> Message:
        """The next event: the one read ahead if there is one, else straight from ``receive``."""
        task, self.task = self.task, None
        self.receiving = True
        self.sends = 0
        try:
            if task is None:
                return await self._receive()
            return await task
        finally:
            self.receiving = False

    def sent(self) -> None:
        """A frame went out: after :data:`SENDS_BEFORE_READ_AHEAD` in a row, read ahead; with
        a frame held unread, ask the server's probe whether the client has gone."""
        if self.task is not None:
            if self._probe is not None and self.task.done() and (gone := self._probe()):
                self._on_disconnect(gone)
            return
        if self.receiving:
            return
        self.sends += 1
        if self.sends >= SENDS_BEFORE_READ_AHEAD:
            self.start()

    def start(self) -> None:
        """Read the next event now, unless something is receiving or already reading ahead."""
        if self.task is None and not self.receiving:
            self.task = asyncio.ensure_future(self._receive())
            self.task.add_done_callback(self._done)

    def cancel(self) -> None:
        """Stop reading ahead (the connection is closed); an event already read is dropped."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()

    def _done(self, task: asyncio.Task[Message]) -> None:
        if task is not self.task or task.cancelled() or task.exception() is not None:
            return  # cancelled, taken by pull(), or an error pull() re-raises
        message = task.result()
        kind = message.get("type")
        if kind != PONG_EVENT and kind != "websocket.disconnect":
            return  # a frame: kept for the handler's next receive()
        self.task = None
        if kind == PONG_EVENT:
            self._on_pong(message.get("bytes") or b"")
            self.start()
        else:
            self._on_disconnect(message)
