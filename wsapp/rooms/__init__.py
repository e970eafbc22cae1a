"""Rooms: broadcast, presence and history over the channel layer, O(processes) per message.

The API (``broadcast``/``abroadcast``, ``online``, ``close``, ``kick``, ``close_user``) lives in
:mod:`wsapp.rooms.api`; it is re-exported lazily so that importing a submodule such as
``wsapp.hub.hub`` does not pull in the whole package.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "abroadcast",
    "aclose",
    "aclose_user",
    "akick",
    "aonline",
    "aonline_connections",
    "broadcast",
    "close",
    "close_user",
    "joined",
    "kick",
    "online",
    "online_connections_sync",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from wsapp.rooms import api

        return getattr(api, name)
    raise AttributeError(f"module 'wsapp.rooms' has no attribute {name!r}")
