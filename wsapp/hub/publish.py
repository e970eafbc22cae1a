"""Handing layer messages to the hubs: the one place a ``group_send`` of a hub message happens.

Publishing needs no hub in the calling process (a management command, an admin action, a task
queue worker): it speaks to the channel layer, and the hubs of the processes holding the sockets
do the rest. When the calling process has a hub, a full channel or an outage is noted on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from channels.exceptions import ChannelFull

from wsapp import jsoncodec
from wsapp.exceptions import LayerUnavailable
from wsapp.hub import messages
from wsapp.hub.hub import current_hub
from wsapp.layers import get_layer

logger = logging.getLogger("wsapp.hub")


async def publish_to_room(room: str, data: Any, exclude: Iterable[str] = ()) -> None:
    """Encode ``data`` once and hand it to every process with a member in ``room``.

    In a process with a hub, a layer outage is noted and the frame dropped: the hub resyncs its
    members when the layer is back, and what they missed is in the database (a chat message is
    stored and acknowledged before it is broadcast). Without a hub (a management command, an
    admin action) the caller gets ``LayerUnavailable``: nobody would resync.
    """
    # A chat message's id lets each hub drop it for a joiner whose history already had it.
    is_chat = isinstance(data, dict) and data.get("type") == "chat.message"
    message = messages.broadcast(room, _encoded(data), exclude, data.get("id") if is_chat else None)
    await _publish(messages.room_group(room), message)


async def publish_raw(room: str, data: str | bytes, exclude: Iterable[str] = ()) -> None:
    """Hand ``data`` unchanged (text or binary) to every process with a member in ``room``."""
    text = jsoncodec.unicode_text(data) if isinstance(data, str) else data
    await _publish(messages.room_group(room), messages.raw_broadcast(room, text, exclude))


async def publish_to_user(user: str, data: Any) -> None:
    """Encode ``data`` once and hand it to every process holding a socket of user key ``user``."""
    await _publish(messages.user_group(user), messages.to_user(user, _encoded(data)))


def _encoded(data: Any) -> str:
    """``data`` as JSON text a socket can be sent. A lone surrogate (which JSON keeps as it is)
    is refused here, once, to the publisher (``InvalidText``, a ``ValueError``), not by every
    hub with a traceback."""
    return jsoncodec.unicode_text(jsoncodec.dumps(data))


async def _publish(group: str, message: messages.HubMessage) -> None:
    try:
        await send_to_group(group, message)
    except LayerUnavailable as exc:
        hub = current_hub()
        if hub is None:
            raise
        hub.layer_failed("group_send", exc)


async def send_to_group(group: str, message: messages.HubMessage) -> None:
    """``group_send`` that counts a full channel instead of raising (direct sends can)."""
    try:
        await get_layer().group_send(group, message)
    except ChannelFull:
        hub = current_hub()
        if hub is not None:
            hub.channel_full += 1
        logger.warning("Channel full: dropped %r to %s", message.get("type"), group)
