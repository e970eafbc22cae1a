"""Rooms: broadcast, presence and history over the channel layer, O(processes) per message.

The API (``broadcast``/``abroadcast``, ``broadcast_raw``, ``send_to_user``, ``online``,
``close``, ``kick``, ``close_user``) lives in
:mod:`wsapp.rooms.api`; its public names are listed here, once, and resolved on first use, so
that importing a submodule (the consumer, presence, history) does not load the API and its sync
bridges. The API module does not import this package: the names cannot go round in a cycle.

Changes that are saved and then pushed to the sockets (archive, ban, make private, announce)
are :mod:`wsapp.rooms.moderation`'s. ``TopicConsumer`` (many rooms over one socket) is resolved
the same way, from :mod:`wsapp.rooms.topics`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "TopicConsumer",
    "abroadcast",
    "abroadcast_raw",
    "aclose",
    "aclose_user",
    "akick",
    "asend_to_user",
    "aonline",
    "aonline_connections",
    "broadcast",
    "broadcast_raw",
    "close",
    "close_user",
    "joined",
    "kick",
    "online",
    "online_connections",
    "send_to_user",
]
#: Old names still served (each warns when called), not part of ``__all__``.
_DEPRECATED = frozenset({"online_connections_sync"})
#: Public names that live outside the API module: name → its module.
_ELSEWHERE = {"TopicConsumer": "wsapp.rooms.topics"}


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    if name in __all__ or name in _DEPRECATED:
        from wsapp.rooms import api  # on first use: see the module docstring

        return getattr(api, name)
    raise AttributeError(f"module 'wsapp.rooms' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
