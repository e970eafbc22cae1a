"""wsapp: the WebSocket layer for Django, on Channels and Daphne.

The public names below are loaded lazily so that ``import wsapp`` (e.g. from
``INSTALLED_APPS`` or a settings module) never touches Django's app registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Consumer",
    "RoomConsumer",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "CloseCode",
    "connections",
    "event",
    "layer_event",
    "login_required",
    "permission_required",
    "__version__",
]

_LAZY = {
    "Consumer": "wsapp.consumers",
    "event": "wsapp.consumers",
    "layer_event": "wsapp.consumers",
    "RoomConsumer": "wsapp.rooms.consumer",
    "login_required": "wsapp.access",
    "permission_required": "wsapp.access",
    "WebSocket": "wsapp.connection",
    "WebSocketState": "wsapp.connection",
    "connections": "wsapp.connection",
    "WebSocketDisconnect": "wsapp.exceptions",
    "CloseCode": "wsapp.codes",
}

if TYPE_CHECKING:
    from wsapp.access import login_required, permission_required
    from wsapp.codes import CloseCode
    from wsapp.connection import WebSocket, WebSocketState, connections
    from wsapp.consumers import Consumer, event, layer_event
    from wsapp.exceptions import WebSocketDisconnect
    from wsapp.rooms.consumer import RoomConsumer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsapp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
