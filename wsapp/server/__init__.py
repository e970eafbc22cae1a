"""``manage.py serve``'s server: Daphne, subclassed, configured from ``WSAPP``.

Importing :class:`WsappServer` or :class:`WsappWebSocketProtocol` installs Twisted's asyncio
reactor (through ``daphne.server``), so import them before anything that imports
``twisted.internet.reactor``. The plain modules (``budgets``, ``buffers``) install nothing: the
names below are loaded on first use, so unit tests can import those without a reactor.

Public names:

- :class:`WsappServer` — ``daphne.server.Server`` with wsapp's protocol, limits and drain;
- :class:`WsappWebSocketProtocol` — Daphne's websocket protocol with its gaps closed;
- :data:`PING_EXTENSION` — the ``"wsapp.ping"`` scope extension the protocol declares.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsapp.server.protocol import WsappWebSocketProtocol
    from wsapp.server.server import WsappServer
    from wsapp.types import PING_EXTENSION

__all__ = ["PING_EXTENSION", "WsappServer", "WsappWebSocketProtocol"]

_HOMES = {
    "PING_EXTENSION": "wsapp.types",
    "WsappWebSocketProtocol": "wsapp.server.protocol",
    "WsappServer": "wsapp.server.server",
}


def __getattr__(name: str) -> Any:
    # Deferred on purpose: the protocol and server modules install Twisted's asyncio reactor.
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'wsapp.server' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
