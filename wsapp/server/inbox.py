"""``Inbox``: a connection's incoming ASGI messages, for the one ``receive`` that reads them.

Daphne gives each connection an ``asyncio.Queue``: three deques (items, getters, putters) and an
``Event`` with a fourth, about 3 KB before the first message (``python -m bench.memory``), for
a queue that is never bounded and never awaited on the putting side. An idle socket's inbox is
empty, so this one is a list and, while someone waits, one list of waiting futures.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Inbox"]


class Inbox:
    """The part of ``asyncio.Queue`` that Daphne's protocol and ``receive`` use, FIFO."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        """The oldest message.

        Raises:
            asyncio.QueueEmpty: there is none.
        """
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> Any:
        """Wait for the oldest message (as ``asyncio.Queue.get``, cancellation included)."""
        while not self._items:
            if self._getters is None:
                self._getters = []
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if self._getters is not None and getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # woken, then cancelled: the next reader gets the item
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if getters is not None and not getters:
            self._getters = None
