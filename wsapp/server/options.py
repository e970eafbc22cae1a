"""autobahn's protocol options, once per server instead of once per connection.

autobahn's ``_connectionMade`` copies each of its 29 options (``CONFIG_ATTRS``) from the factory
onto every new protocol, "but only if not already set on protocol instance": 29 ``setattr`` per
connection and 29 of the protocol's ~100 instance-dict keys, which push that dict past 85 keys,
CPython's step from a 128-slot table (~1.6 KB) to a 256-slot one (~3.3 KB). ``serve`` sets its
options once, before the first connection (:meth:`WsappServer._started`), so
:func:`configured` makes them class attributes of a protocol subclass of that server: autobahn
finds each set and copies none, every read returns the factory's value as the copy did, and an
assignment on one connection (``closeHandshakeTimeout`` for a slow reader) still stays its own.
"""

from __future__ import annotations

from typing import Any

from wsapp.server.protocol import WsappWebSocketProtocol

__all__ = ["configured"]


def configured(
    protocol: type[WsappWebSocketProtocol], factory: Any
) -> type[WsappWebSocketProtocol]:
    """``protocol`` with ``factory``'s current options as class attributes (a subclass, so two
    servers in one process keep their own)."""
    options = {name: _plain(getattr(factory, name)) for name in protocol.CONFIG_ATTRS}
    namespace = {"__module__": protocol.__module__, "__qualname__": protocol.__qualname__}
    return type(protocol.__name__, (protocol,), {**namespace, **options})


def _plain(value: Any) -> Any:
    """``value`` as a class attribute that reads back as itself: a function
    (``perMessageCompressionAccept``) must not become a method of the connection."""
    return staticmethod(value) if hasattr(type(value), "__get__") else value
