"""Every authenticated socket is known to its process's hub, by user.

That index is what lets a logout, a deactivation or a password change close the user's sockets
on every process at once (one ``group_send`` to the user's group), and what enforces
``WSAPP["MAX_CONNECTIONS_PER_USER"]`` across processes: each socket is an entry in a shared,
expiring set, renewed by its hub, so a crashed process's sockets stop counting within
``PRESENCE_TTL``.

A socket counts once its accept hooks ran, which is after the handshake the client sees. When two
processes admit a user's sockets at once, the one whose count reaches Redis last is refused, not
necessarily the one whose handshake completed last; the cap itself always holds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from wsapp.conf import get_settings
from wsapp.connection import WebSocket, accept_hooks, close_hooks
from wsapp.exceptions import LayerUnavailable, TooManyConnections
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


async def on_accept(ws: WebSocket) -> None:
    key = user_key(ws.scope.get("user"))
    if key is None:
        return
    hub = await get_hub()
    ws.user_key = key
    await hub.attach_user(key, ws)
    conf = get_settings()
    if conf["RATE_LIMIT_PER_USER"] is not None:
        ws.user_rate_limit = UserRateLimit(
            hub.store, key, conf["RATE_LIMIT_PER_USER"], float(conf["RATE_LIMIT_GRACE"])
        )
    cap = conf["MAX_CONNECTIONS_PER_USER"]
    if cap is None:
        return
    if _counting not in hub.refresh_hooks:
        hub.refresh_hooks.append(_counting)
    await hub.store.add(connections_key(key), ws.id, hub.ttl)
    count = len(await hub.store.members(connections_key(key)))
    if count > cap:
        await hub.store.remove(connections_key(key), ws.id)
        raise TooManyConnections(f"At most {cap} connections per user; close one and retry.")


def on_close(ws: WebSocket) -> None:
    hub = current_hub()
    if hub is None:
        return
    key = ws.user_key
    if key is not None:
        hub.detach_user(key, ws)
        if get_settings()["MAX_CONNECTIONS_PER_USER"] is not None:
            _background(hub.store.remove(connections_key(key), ws.id))
    presence = hub.presence
    if presence is not None:
        for room in presence.rooms_of(ws):
            hub.leave(room, ws)
            _background(presence.leave(room, ws))


async def _counting(hub: Hub) -> None:
    await hub.store.refresh(
        ((connections_key(key), ws.id) for key, sockets in hub.users.items() for ws in sockets),
        hub.ttl,
    )


_pending: set[asyncio.Task[Any]] = set()


def _background(coroutine: Any) -> None:
    """Run cleanup that a synchronous close hook cannot await, keeping a reference to it."""
    task = asyncio.get_running_loop().create_task(_quietly(coroutine))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _quietly(coroutine: Any) -> None:
    """Await cleanup; with the layer away it is skipped: the entries expire within one TTL."""
    try:
        await coroutine
    except LayerUnavailable as exc:
        hub = current_hub()
        if hub is not None:
            hub.layer_failed("cleanup", exc)


def install() -> None:
    """Hook into every connection's accept and close (idempotent; called from ``ready()``)."""
    if on_accept not in accept_hooks:
        accept_hooks.append(on_accept)
    if on_close not in close_hooks:
        close_hooks.append(on_close)
