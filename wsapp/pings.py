"""Protocol-level pings from the application, over the ``wsapp.ping`` scope extension.

``WebSocket`` inherits :class:`PingMethods`, as it inherits the payload methods: ``ping()``
sends a ``wsapp.ping`` event and waits for the ``wsapp.pong`` that ``receive()`` (or the
connection's read-ahead, :mod:`wsapp.readahead`, when nothing is receiving) hands to
``_resolve_ping``. Only ``manage.py serve`` declares the extension.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

from wsapp.exceptions import NotSupported
from wsapp.types import PING_EVENT, PING_EXTENSION, Message, Scope

if TYPE_CHECKING:
    from wsapp.readahead import ReadAhead

_now = time.monotonic  # the connection's clock


class PingMethods:
    """``ping()`` and the bookkeeping of its pongs."""

    scope: Scope
    _pings: dict[bytes, tuple[float, asyncio.Future[float]]]
    _ahead: ReadAhead

    async def send_frame(self, message: Message) -> None:
        raise NotImplementedError  # the connection's: one ASGI event, as it is

    async def ping(self, data: bytes = b"", timeout: float | None = None) -> float:
        """Send a protocol-level ping and return the round trip in seconds.

        The pong arrives through ``receive()``: a handler that is not receiving has it read
        ahead for it (a frame read meanwhile waits for its next ``receive()``).

        Raises:
            NotSupported: the server does not offer pings (run under ``manage.py serve``).
            TimeoutError: no pong within ``timeout`` seconds.
            WebSocketDisconnect: the connection closed before the pong.
        """
        if PING_EXTENSION not in (self.scope.get("extensions") or {}):
            raise NotSupported(
                "This server offers no protocol-level ping; run it with `manage.py serve`."
            )
        payload = bytes(data) or os.urandom(4)
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pings[payload] = (_now(), waiter)
        try:
            await self.send_frame({"type": PING_EVENT, "bytes": payload})
            self._ahead.start()  # the pong comes through receive(), even if nothing else reads
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            self._pings.pop(payload, None)

    def _resolve_ping(self, payload: bytes) -> None:
        entry = self._pings.pop(payload, None)
        if entry is not None and not entry[1].done():
            entry[1].set_result(_now() - entry[0])
