"""The shared store's capped add (``add_within``), on the in-memory store and a real Redis."""

from __future__ import annotations

import asyncio
import json

from wsapp.hub.store import TTLStore


def entry(owner: str, connection: str) -> str:
    """A member as presence writes it: a JSON array whose first item is its owner."""
    return json.dumps([owner, connection, {}])


async def test_a_capped_add_counts_owners_not_members(ttl_store: TTLStore) -> None:
    assert await ttl_store.add_within("room", entry("alice", "a1"), "alice", 30, 2) == []
    assert await ttl_store.add_within("room", entry("alice", "a2"), "alice", 30, 2) == ["alice"]
    assert await ttl_store.add_within("room", entry("bob", "b1"), "bob", 30, 2) == ["alice"]
    assert await ttl_store.add_within("room", entry("carol", "c1"), "carol", 30, 2) is None
    # A seated owner's next connection is always let in; nothing was added for carol.
    assert await ttl_store.add_within("room", entry("bob", "b2"), "bob", 30, 2) == [
        "alice",
        "bob",
    ]
    assert sorted(await ttl_store.members("room")) == sorted(
        [entry("alice", "a1"), entry("alice", "a2"), entry("bob", "b1"), entry("bob", "b2")]
    )


async def test_expired_members_hold_no_seat(ttl_store: TTLStore) -> None:
    await ttl_store.add("room", entry("ghost", "g1"), -1)  # its deadline has passed
    assert await ttl_store.add_within("room", entry("alice", "a1"), "alice", 30, 1) == []


async def test_the_member_itself_written_early_holds_no_seat(ttl_store: TTLStore) -> None:
    # A hub refresh can write a joining socket's entry before its capped add runs.
    await ttl_store.add("room", entry("alice", "a1"), 30)
    await ttl_store.refresh([("room", entry("carol", "c1"))], 30)
    assert await ttl_store.add_within("room", entry("carol", "c1"), "carol", 30, 1) is None


async def test_a_crowd_adding_at_once_gets_exactly_cap_seats(ttl_store: TTLStore) -> None:
    results = await asyncio.gather(
        *(ttl_store.add_within("room", entry(f"u{i}", f"c{i}"), f"u{i}", 30, 3) for i in range(20))
    )
    assert sum(result is not None for result in results) == 3
    assert len(await ttl_store.members("room")) == 3
