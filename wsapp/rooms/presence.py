"""Who is in a room, per user, across every process: ``presence.state`` and ``presence.diff``.

An entry is one connection (so a user with two tabs is two entries and online once) and carries
that connection's metadata, e.g. the client's device string. Entries live in the hub's TTL store;
the hub's refresh renews this process's entries and prunes expired ones, announcing the users
that left with them — that is how a killed process's users leave within one TTL.
"""

from __future__ import annotations

import collections
import json
import time
from typing import Any

from wsapp.connection import WebSocket
from wsapp.hub.hub import Hub
from wsapp.hub.publish import publish_to_room
from wsapp.hub.store import TTLStore

#: Joins and leaves kept for the dashboard (:func:`wsapp.metrics.cluster.process_stats`).
RECENT_EVENTS = 50


def presence_key(room: str) -> str:
    return f"presence.{room}"


def _parse(member: str) -> tuple[str, str, dict[str, Any]]:
    username, connection_id, meta = json.loads(member)
    return username, connection_id, meta


async def online_users(store: TTLStore, room: str) -> list[str]:
    """Online usernames in ``room``, each once, sorted."""
    return sorted({_parse(m)[0] for m in await store.members(presence_key(room))})


async def room_connections(store: TTLStore, room: str) -> list[dict[str, Any]]:
    """Every live connection in ``room`` with its user and metadata."""
    result = []
    for member in await store.members(presence_key(room)):
        username, connection_id, meta = _parse(member)
        result.append({"user": username, "connection": connection_id, "meta": meta})
    return result


class Presence:
    """This process's presence entries, and the room-wide view from the shared store."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.store: TTLStore = hub.store
        self.entries: dict[str, dict[WebSocket, str]] = {}
        #: This process's recent joins and leaves, newest last: ``{"ts", "kind", "user", "room"}``.
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT_EVENTS)

    async def join(
        self, room: str, ws: WebSocket, username: str, meta: dict[str, Any] | None = None
    ) -> list[str]:
        """Enter ``ws`` as ``username``; announce the user if this is their first connection.

        Returns the room's online users, the joiner included (for ``presence.state``).
        """
        before = await self.users(room)
        member = self._enter(room, ws, username, meta)
        await self.store.add(presence_key(room), member, self.hub.ttl)
        return await self._announce(room, ws, username, before)

    async def join_within(
        self, room: str, ws: WebSocket, username: str, cap: int, meta: dict[str, Any] | None = None
    ) -> list[str] | None:
        """:meth:`join`, unless ``cap`` other users are online: then ``None``, and no entry.

        The count and the entry are one atomic store operation, so users joining at the same
        instant, on any number of processes, never take more than ``cap`` seats.
        """
        member = self._enter(room, ws, username, meta)
        before = await self.store.add_within(
            presence_key(room), member, username, self.hub.ttl, cap
        )
        if before is None:
            self._forget(room, ws)
            # A hub refresh during the call may have written the entry: it must not stay.
            await self.store.remove(presence_key(room), member)
            return None
        return await self._announce(room, ws, username, before)

    def _enter(self, room: str, ws: WebSocket, username: str, meta: dict[str, Any] | None) -> str:
        # Recorded before the store call, so a close during it finds the entry to remove.
        member = json.dumps([username, ws.id, meta or {}], separators=(",", ":"))
        self.entries.setdefault(room, {})[ws] = member
        return member

    def _forget(self, room: str, ws: WebSocket) -> str | None:
        entries = self.entries.get(room)
        member = entries.pop(ws, None) if entries is not None else None
        if entries is not None and not entries:
            del self.entries[room]
        return member

    async def _announce(
        self, room: str, ws: WebSocket, username: str, before: list[str]
    ) -> list[str]:
        if username not in before:
            self.events.append({"ts": time.time(), "kind": "join", "user": username, "room": room})
            await publish_to_room(
                room, {"type": "presence.diff", "joins": [username], "leaves": []}, exclude=[ws.id]
            )
        return sorted(set(before) | {username})

    async def leave(self, room: str, ws: WebSocket) -> None:
        """Remove ``ws``'s entry; announce the user's leave if it was their last connection."""
        member = self._forget(room, ws)
        if member is None:
            return
        await self.store.remove(presence_key(room), member)
        username = _parse(member)[0]
        if username not in await self.users(room):
            self.events.append({"ts": time.time(), "kind": "leave", "user": username, "room": room})
            await publish_to_room(
                room, {"type": "presence.diff", "joins": [], "leaves": [username]}
            )

    def rooms_of(self, ws: WebSocket) -> list[str]:
        return [room for room, entries in self.entries.items() if ws in entries]

    def forget(self, ws: WebSocket) -> None:
        """``ws`` closed (the hub's :meth:`~wsapp.hub.hub.Hub.forget`): leave its rooms, in the
        background, since a close cannot wait for the store."""
        for room in self.rooms_of(ws):
            self.hub.cleanup(self.leave(room, ws))

    async def users(self, room: str) -> list[str]:
        return await online_users(self.store, room)

    async def refresh(self, hub: Hub) -> None:
        """Renew this process's entries; prune expired ones and announce who left with them."""
        await self.store.refresh(
            (
                (presence_key(room), m)
                for room, entries in self.entries.items()
                for m in entries.values()
            ),
            hub.ttl,
        )
        for room in list(self.entries):
            gone = {_parse(m)[0] for m in await self.store.expire(presence_key(room))}
            if gone:
                still = set(await self.users(room))
                left = sorted(gone - still)
                if left:
                    await publish_to_room(
                        room, {"type": "presence.diff", "joins": [], "leaves": left}
                    )


def presence_for(hub: Hub) -> Presence:
    """The hub's presence tracker, made on first use and told of the hub's refreshes and of
    the sockets it forgets."""
    presence = hub.presence
    if isinstance(presence, Presence):
        return presence
    presence = Presence(hub)
    hub.presence = presence
    hub.on_refresh(presence.refresh)
    hub.on_forget(presence.forget)
    return presence
