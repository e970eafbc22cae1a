"""The rooms API for views, signals, management commands and task queues.

Django's naming: ``broadcast()`` is the synchronous twin of ``abroadcast()``, and so on. None of
these needs a hub in the calling process: they speak to the channel layer, and the hubs of the
processes that hold the room's sockets do the rest.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Iterable
from typing import Any

from asgiref.sync import async_to_sync

from wsapp import jsoncodec
from wsapp.codes import CloseCode
from wsapp.connection import CONNECTED, WebSocket
from wsapp.exceptions import InvalidStateError
from wsapp.hub import messages
from wsapp.hub.active import active_rooms
from wsapp.hub.hub import current_hub, get_hub
from wsapp.hub.publish import publish_raw, publish_to_room, publish_to_user, send_to_group
from wsapp.hub.store import store_for
from wsapp.hub.users import user_key
from wsapp.layers import get_layer
from wsapp.rooms.presence import Presence, online_users, presence_for, room_connections


def _slug(room: Any) -> str:
    return str(getattr(room, "slug", room))


async def abroadcast(
    room: Any, data: Any, exclude: Iterable[WebSocket | str] | None = None
) -> None:
    """Send ``data`` (JSON-encoded once) to every live member of ``room`` on every process.

    Args:
        room: a ``Room`` or its slug.
        exclude: sockets (or their ids) that should not get it, e.g. the sender's.

    Raises:
        ValueError: ``data`` has no JSON form, or holds a lone surrogate (``InvalidText``:
            no socket could be sent it); nothing was published.
    """
    ids = [ws.id if isinstance(ws, WebSocket) else ws for ws in exclude or ()]
    await publish_to_room(_slug(room), data, ids)


async def abroadcast_raw(
    room: Any, data: str | bytes, exclude: Iterable[WebSocket | str] | None = None
) -> None:
    """Send ``data`` unchanged to every live member of ``room`` on every process: a ``str`` as
    a text frame, ``bytes`` as a binary one, with no JSON quoting (a plain-text or binary
    protocol's broadcast). Multiplexed (topic) sockets get it wrapped, as they speak JSON:
    ``{"type": "raw", "topic", "text"}`` (or ``"base64"`` for bytes)."""
    if not isinstance(data, str | bytes | bytearray | memoryview):
        raise TypeError(f"broadcast_raw() sends str or bytes, not {type(data).__name__}")
    ids = [ws.id if isinstance(ws, WebSocket) else ws for ws in exclude or ()]
    await publish_raw(_slug(room), data if isinstance(data, str) else bytes(data), ids)


async def asend_to_user(user: Any, data: Any) -> None:
    """Send ``data`` (JSON-encoded once) to every open socket of ``user`` (a user or its pk),
    in any room or none, on every process: Starlette's ``send_personal_message``, Socket.IO's
    ``to(user)``. A user with no open socket gets nothing (it is not queued)."""
    await publish_to_user(str(getattr(user, "pk", user)), data)


async def aonline(room: Any) -> list[str]:
    """Usernames online in ``room`` across all processes, each once."""
    return await online_users(store_for(get_layer()), _slug(room))


async def aonline_connections(room: Any) -> list[dict[str, Any]]:
    """Live connections in ``room``: ``{"user", "connection", "meta"}`` each."""
    return await room_connections(store_for(get_layer()), _slug(room))


async def aclose(room: Any, code: int = CloseCode.ROOM_CLOSED, reason: str = "") -> None:
    """Send live members ``{"type": "room.closed", "reason": ...}``, then close them with ``code``."""
    slug = _slug(room)
    notice = jsoncodec.dumps({"type": "room.closed", "reason": reason})
    await send_to_group(messages.room_group(slug), messages.close_room(slug, code, reason, notice))


async def akick(room: Any, user: Any, code: int = CloseCode.FORBIDDEN, reason: str = "") -> None:
    """Close ``user``'s sockets in ``room`` (on every process) with ``code``."""
    key = user_key(user) if hasattr(user, "is_authenticated") else str(user)
    if key is None:
        return  # an anonymous user's sockets are not indexed by user: there is nothing to close
    slug = _slug(room)
    await send_to_group(messages.room_group(slug), messages.kick(slug, key, code, reason))


async def aclose_user(user: Any, code: int = CloseCode.NOT_AUTHENTICATED, reason: str = "") -> None:
    """Close every socket of ``user`` (a user or its pk) on every process."""
    key = str(getattr(user, "pk", user))
    await send_to_group(messages.user_group(key), messages.close_user(key, code, reason))


async def aactive() -> list[str]:
    """Slugs of the rooms with a live member on any process (any way of being in one: a
    ``RoomConsumer``, :func:`join`, a topic), sorted, each once. A crashed process's rooms drop
    out within ``PRESENCE_TTL``."""
    return await active_rooms(store_for(get_layer()))


def _checked_slug(room: Any) -> str:
    slug = _slug(room)
    messages.room_group(slug)  # ValueError for a name no group can have, before any change
    return slug


async def join(ws: WebSocket, room: Any, *, presence: bool = True) -> None:
    """Deliver ``room``'s broadcasts to ``ws`` from now on, until :func:`leave` or its close.

    A socket may be in any number of rooms. A signed-in user is entered in the room's presence
    (the entries ``RoomConsumer`` writes: ``online()`` lists them, the room's members get a
    ``presence.diff``); ``presence=False`` skips that, for a plain-text or binary protocol whose
    members must not get JSON frames. Joining twice is one membership.

    Raises:
        ValueError: ``room`` is not a valid room name (1-99 of ``[a-zA-Z0-9._-]``).
        InvalidStateError: ``ws`` is not accepted yet, or closed.
        LayerUnavailable: the channel layer is away (nothing was joined).
    """
    slug = _checked_slug(room)
    if ws.application_state is not CONNECTED or ws.closed:
        raise InvalidStateError("join a room", ws.application_state, CONNECTED)
    hub = await get_hub()
    await hub.join(slug, ws)
    user = ws.scope.get("user")
    if not presence or user is None or not user.is_authenticated:
        return
    meta = {"device": ws.headers.get("user-agent", "")[:200]}
    try:
        await presence_for(hub).join(slug, ws, user.get_username(), meta)
    except BaseException:
        with contextlib.suppress(Exception):  # its own store call may fail the same way
            await leave(ws, slug)  # the hub's membership goes first, whatever the store says
        raise


async def leave(ws: WebSocket, room: Any) -> None:
    """Stop delivering ``room``'s broadcasts to ``ws`` and take it out of the room's presence
    (its user's leave is announced if it was their last socket there). Leaving a room ``ws`` is
    not in does nothing; a close leaves every room by itself.

    Raises:
        ValueError: ``room`` is not a valid room name.
    """
    slug = _checked_slug(room)
    hub = current_hub()
    if hub is None:
        return  # no hub on this loop: ws joined nothing here
    hub.leave(slug, ws)
    idle = hub.active.idle(hub.rooms)
    if idle:
        await hub.active.remove(idle, hub.channel)
    if isinstance(hub.presence, Presence):
        await hub.presence.leave(slug, ws)


@contextlib.asynccontextmanager
async def joined(ws: WebSocket, room: Any, *, presence: bool = True) -> AsyncIterator[None]:
    """:func:`join` for the block's duration, then :func:`leave` (for ``async def`` handlers;
    ``RoomConsumer`` does this, with history, for you)::

        async with rooms.joined(ws, "lobby"):
            async for text in ws.iter_text():
                await rooms.abroadcast("lobby", {"type": "message", "body": text})
    """
    await join(ws, room, presence=presence)
    try:
        yield
    finally:
        await leave(ws, room)


broadcast = async_to_sync(abroadcast)
broadcast_raw = async_to_sync(abroadcast_raw)
send_to_user = async_to_sync(asend_to_user)
online = async_to_sync(aonline)
active = async_to_sync(aactive)
online_connections = async_to_sync(aonline_connections)
close = async_to_sync(aclose)
kick = async_to_sync(akick)
close_user = async_to_sync(aclose_user)


def online_connections_sync(room: Any) -> list[dict[str, Any]]:
    """Deprecated: the sync twin of ``aonline_connections`` is :func:`online_connections`."""
    warnings.warn(
        "wsapp.rooms.online_connections_sync() is deprecated; use online_connections().",
        DeprecationWarning,
        stacklevel=2,
    )
    return online_connections(room)  # type: ignore[no-any-return]
