"""``manage.py serve``'s server: Daphne, subclassed, configured from ``WSAPP``.

Importing this package installs Twisted's asyncio reactor (through ``daphne.server``), so import
it before anything that imports ``twisted.internet.reactor``.

Public names:

- :class:`WsappServer` — ``daphne.server.Server`` with wsapp's protocol, limits and drain;
- :class:`WsappWebSocketProtocol` — Daphne's websocket protocol with its gaps closed;
- :data:`PING_EXTENSION` — the ``"wsapp.ping"`` scope extension the protocol declares.
"""

from __future__ import annotations

import daphne.server  # noqa: F401  isort: skip  (first: it installs the asyncio reactor)

from wsapp.server.protocol import PING_EXTENSION, WsappWebSocketProtocol
from wsapp.server.server import WsappServer

__all__ = ["PING_EXTENSION", "WsappServer", "WsappWebSocketProtocol"]
