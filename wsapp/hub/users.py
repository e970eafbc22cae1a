"""Every authenticated socket is known to its process's hub, by user.

That index is what lets a logout, a deactivation or a password change close the user's sockets
on every process at once (one ``group_send`` to the user's group), and what enforces
``WSAPP["MAX_CONNECTIONS_PER_USER"]`` across processes: each socket is an entry in a shared,
expiring set, renewed by its hub, so a crashed process's sockets stop counting within
``PRESENCE_TTL``.

A socket counts once the :class:`UserIndex` observer saw its accept, which is after the handshake
the client sees. When two processes admit a user's sockets at once, the one whose count reaches
Redis last is refused, not necessarily the one whose handshake completed last; the cap itself
always holds.
"""

from __future__ import annotations

import logging
from typing import Any

from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.exceptions import TooManyConnections
from wsapp.hub.hub import Hub, current_hub, get_hub
from wsapp.limits import UserRateLimit

logger = logging.getLogger("wsapp")


def user_key(user: Any) -> str | None:
    """The key a user's sockets are indexed by; ``None`` for anonymous users."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def connections_key(key: str) -> str:
    return f"conns.{key}"


class UserIndex:
    """The connection observer that files every authenticated socket with its process's hub.

    On accept it attaches the socket to the hub under its user's key, shares the user's rate
    bucket with it (``RATE_LIMIT_PER_USER``) through the socket's limits, and counts it against
    ``MAX_CONNECTIONS_PER_USER`` (raising ``TooManyConnections``, 4409, over the cap). On close it
    lets the hub forget the socket (:meth:`~wsapp.hub.hub.Hub.forget`: its rooms, its user, its
    presence) and frees its place in the user's count. Anonymous sockets cost
    nothing: no hub is started for them.
    """

    def __init__(self) -> None:
        #: The user key each attached socket was filed under (read back at its close).
        self._keys: dict[WebSocket, str] = {}

    async def on_accept(self, ws: WebSocket) -> None:
        key = user_key(ws.scope.get("user"))
        if key is None:
            return
        hub = await get_hub()
        self._keys[ws] = key
        await hub.attach_user(key, ws)
        conf = get_settings()
        if conf["RATE_LIMIT_PER_USER"] is not None:
            ws.limits.share_user_rate(
                UserRateLimit(
                    hub.store, key, conf["RATE_LIMIT_PER_USER"], float(conf["RATE_LIMIT_GRACE"])
                )
            )
        cap = conf["MAX_CONNECTIONS_PER_USER"]
        if cap is None:
            return
        hub.on_refresh(_counting)
        await hub.store.add(connections_key(key), ws.id, hub.ttl)
        count = len(await hub.store.members(connections_key(key)))
        if count > cap:
            await hub.store.remove(connections_key(key), ws.id)
            raise TooManyConnections(f"At most {cap} connections per user; close one and retry.")

    def on_close(self, ws: WebSocket) -> None:
        key = self._keys.pop(ws, None)
        hub = current_hub()
        if hub is None:
            return
        if key is not None and get_settings()["MAX_CONNECTIONS_PER_USER"] is not None:
            hub.cleanup(hub.store.remove(connections_key(key), ws.id))
        hub.forget(ws)

    def on_refuse(self, ws: WebSocket) -> None:
        """A refused handshake was never filed: nothing to forget."""


async def _counting(hub: Hub) -> None:
    await hub.store.refresh(
        ((connections_key(key), ws.id) for key, sockets in hub.users.items() for ws in sockets),
        hub.ttl,
    )
