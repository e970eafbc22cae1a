"""What a hub does when the channel layer answers again after an outage.

It re-adds its groups at once, rather than at the next refresh, and closes its room members and
signed-in sockets with 1012: whatever was broadcast meanwhile never reached them, a client that
reconnects with ``?since=`` gets it from the database, where every acknowledged message already
is, and a user logged out meanwhile is refused at the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.exceptions import InvalidStateError, LayerUnavailable, WebSocketDisconnect

if TYPE_CHECKING:
    from wsapp.hub.hub import Hub

logger = logging.getLogger("wsapp.hub")

# While the layer is away, ask again after this long, doubling up to the cap: a restarted Redis
# is noticed within the cap, and a dead one costs a failed connect every few seconds.
RECOVERY_POLL = 0.25
MAX_RECOVERY_POLL = 1.0
RESYNC_REASON = "Live updates were interrupted; reconnect to resume."


async def recover(hub: Hub) -> None:
    """Poll until the layer answers, re-add every group at once, then resync members."""
    delay = RECOVERY_POLL
    while True:
        await asyncio.sleep(delay)
        reset = getattr(hub.layer, "reset_connections", None)
        if reset is not None:  # connections to the old Redis are dead: dial fresh ones
            with contextlib.suppress(Exception):
                await reset()
        try:
            await hub.refresh()
            break
        except LayerUnavailable as exc:
            hub.outage.failed("recover", exc)
        except Exception:
            logger.exception("Hub %s failed to refresh after an outage", hub.channel)
        delay = min(delay * 2, MAX_RECOVERY_POLL)
    # Room members missed broadcasts; signed-in sockets may have missed a logout or a ban
    # (a user-group close): both reconnect, and the handshake checks them again.
    sockets = {ws for members in hub.rooms.values() for ws in members}
    sockets.update(ws for user_sockets in hub.users.values() for ws in user_sockets)
    hub.outage.recovered(f"; resyncing {len(sockets)} local sockets.")
    # RFC 6455 §7.4.1 / IANA: 1012 = service restart; wsapp.js reconnects with ?since=.
    await close_all(sockets, CloseCode.SERVICE_RESTART, RESYNC_REASON)


async def close_all(sockets: Iterable[WebSocket], code: int, reason: str) -> None:
    """Close each socket with ``code``; one already gone is skipped, not an error."""
    for ws in list(sockets):
        with contextlib.suppress(WebSocketDisconnect, InvalidStateError, OSError):
            await ws.close(code, reason)
