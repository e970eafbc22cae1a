"""Which rooms have live members on any process: the shared set behind ``rooms.active()``.

Each process's hub writes one entry per room it holds a member of (a plain socket, a topic of a
multiplexed one, a ``RoomConsumer``: any way of being in a room) into one expiring set of the
hub's store, renews them on every refresh and removes them when its last local member leaves.
A process that crashes stops renewing, so its rooms drop out within one ``PRESENCE_TTL`` with
no cleanup from the dead — the same rule as presence and the per-user connection counts.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from wsapp.hub.store import TTLStore

#: The store key of the set: members are ``[room, hub channel]`` (one per room per process).
ACTIVE_KEY = "rooms.active"


def _entry(room: str, channel: str) -> str:
    return json.dumps([room, channel], separators=(",", ":"))


async def active_rooms(store: TTLStore) -> list[str]:
    """Slugs of the rooms with a live member on any process, sorted, each once."""
    rooms = set()
    for member in await store.members(ACTIVE_KEY):
        try:
            room = json.loads(member)[0]
        except (ValueError, IndexError, TypeError, KeyError):
            continue  # not an entry of ours: never fatal to a listing
        if isinstance(room, str):
            rooms.add(room)
    return sorted(rooms)


class ActiveRooms:
    """One hub's entries in the shared set (the rooms it has written and not yet removed)."""

    def __init__(self, store: TTLStore) -> None:
        self.store = store
        self.marked: set[str] = set()

    async def mark(self, room: str, channel: str, ttl: float) -> None:
        """``room`` has a local member: write this process's entry (once, until it idles).

        Raises:
            LayerUnavailable: the store is away (the hub refuses the join with 1013).
        """
        if room in self.marked:
            return
        self.marked.add(room)
        try:
            await self.store.add(ACTIVE_KEY, _entry(room, channel), ttl)
        except BaseException:
            self.marked.discard(room)
            raise

    def idle(self, live: Collection[str]) -> list[str]:
        """The marked rooms that have no local member any more, unmarked (remove them next)."""
        gone = sorted(self.marked.difference(live))
        self.marked.difference_update(gone)
        return gone

    async def remove(self, rooms: Collection[str], channel: str) -> None:
        for room in rooms:
            await self.store.remove(ACTIVE_KEY, _entry(room, channel))

    async def refresh(self, live: Collection[str], channel: str, ttl: float) -> None:
        """Renew the entries of the rooms with local members, remove the idle ones, and prune
        entries whose process stopped renewing them (a crashed process's)."""
        await self.remove(self.idle(live), channel)
        self.marked.update(live)  # a join whose write failed is written now
        await self.store.refresh(((ACTIVE_KEY, _entry(r, channel)) for r in self.marked), ttl)
        await self.store.expire(ACTIVE_KEY)
