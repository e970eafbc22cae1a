"""wsapp: the WebSocket layer for Django, on Channels and Daphne.

The public API, covered by semantic versioning, is the names in ``__all__`` and the modules in
``_PUBLIC_MODULES`` (with the names they define without a leading underscore). Every other
module (``connection``, ``limits``, ``payloads``, ``hub``, ``server``, ``admin``, ...) is
internal and may change in any release, even where a public name is defined: import
``WebSocket`` from ``wsapp``, not from ``wsapp.connection``.

The names are loaded lazily (``__getattr__`` and ``__dir__``, as websockets' ``imports.py``
does) so that ``import wsapp`` (e.g. from ``INSTALLED_APPS`` or a settings module) never
touches Django's app registry. ``_LAZY`` is the one table of where each name lives;
``tests/test_exports.py`` keeps it, ``__all__`` and the ``TYPE_CHECKING`` imports in step.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Consumer",
    "RoomConsumer",
    "TopicConsumer",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "CloseCode",
    "broadcast",
    "connections",
    "event",
    "layer_event",
    "login_required",
    "permission_required",
    "__version__",
]

#: Public name -> the module that defines it.
_LAZY = {
    "Consumer": "wsapp.consumers",
    "event": "wsapp.consumers",
    "layer_event": "wsapp.consumers",
    "RoomConsumer": "wsapp.rooms.consumer",
    "TopicConsumer": "wsapp.rooms.topics",
    "login_required": "wsapp.access",
    "permission_required": "wsapp.access",
    "WebSocket": "wsapp.connection",
    "WebSocketState": "wsapp.connection",
    "connections": "wsapp.lifecycle",
    "WebSocketDisconnect": "wsapp.exceptions",
    "CloseCode": "wsapp.codes",
    "broadcast": "wsapp.fanout",
}

#: Modules a project may import from. The ``serve`` and ``rooms`` management commands and the
#: pytest fixtures (``ws_client``, ``ws_connect``) are public too, by their names.
_PUBLIC_MODULES = frozenset(
    {
        "wsapp",
        "wsapp.access",
        "wsapp.asgi",
        "wsapp.auth",
        "wsapp.codes",
        "wsapp.conf",
        "wsapp.consumers",
        "wsapp.denial",
        "wsapp.exceptions",
        "wsapp.jsoncodec",
        "wsapp.layers",
        "wsapp.lifecycle",
        "wsapp.metrics",
        "wsapp.metrics.cluster",
        "wsapp.models",
        "wsapp.origin",
        "wsapp.proxy",
        "wsapp.redis_layer",
        "wsapp.rooms",
        "wsapp.rooms.consumer",
        "wsapp.rooms.moderation",
        "wsapp.rooms.topics",
        "wsapp.routing",
        "wsapp.testing",
        "wsapp.tokens",
        "wsapp.types",
        "wsapp.urls",
    }
)

if TYPE_CHECKING:
    from wsapp.access import login_required, permission_required
    from wsapp.codes import CloseCode
    from wsapp.connection import WebSocket, WebSocketState
    from wsapp.consumers import Consumer, event, layer_event
    from wsapp.exceptions import WebSocketDisconnect
    from wsapp.fanout import broadcast
    from wsapp.lifecycle import connections
    from wsapp.rooms.consumer import RoomConsumer
    from wsapp.rooms.topics import TopicConsumer


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use.

    An unknown name raises ``AttributeError``, which also lets ``from wsapp import jsoncodec``
    fall back to importing the submodule.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsapp' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """The module's own globals and the lazy names, so completion sees the whole API."""
    return sorted({*globals(), *_LAZY})
