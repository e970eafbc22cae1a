"""Chat history: written before it is acknowledged, stored once per ``client_id``, replayable.

The order is the promise: a message is committed to the database, then acknowledged to its
sender with its id, then broadcast. A client that lost its connection resends unacknowledged
messages with the same ``client_id`` (stored once, acknowledged with the same id, not broadcast
again) and reconnects with ``?since=<last id>`` to get what it missed. While the database is
away, both raise ``DatabaseUnavailable`` (closed with 1013, see :mod:`wsapp.dbhealth`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction

from wsapp.dbhealth import database_call
from wsapp.models import Message, Room


@dataclass(frozen=True)
class Stored:
    message: dict[str, Any]
    created: bool


def _save(room: Room, user: Any, body: str, client_id: str) -> Stored:
    author = user if getattr(user, "is_authenticated", False) else None
    if client_id:
        existing = (
            Message.objects.for_wire().filter(room=room, user=author, client_id=client_id).first()
        )
        if existing is not None:
            return Stored(existing.to_wire(), created=False)
    try:
        with transaction.atomic():
            # Lock the room row: a room's messages then commit in id order, so a reader that
            # saw id N can never later find a smaller id committed behind it (PostgreSQL hands
            # out sequence values at insert, not at commit), and ?since=N misses nothing.
            list(Room.objects.select_for_update().filter(pk=room.pk).values_list("pk", flat=True))
            message = Message.objects.create(room=room, user=author, body=body, client_id=client_id)
    except IntegrityError:  # the same retry raced us from another process
        existing = Message.objects.for_wire().get(room=room, user=author, client_id=client_id)
        return Stored(existing.to_wire(), created=False)
    message.room = room
    return Stored(message.to_wire(), created=True)


_save_async = database_sync_to_async(_save)


async def save_message(room: Room, user: Any, body: str, client_id: str) -> Stored:
    """Store a chat message once per ``client_id``.

    Raises:
        DatabaseUnavailable: the database is away; the client retries after a reconnect.
    """
    with database_call("store a message"):
        return await _save_async(room, user, body, client_id)


def _recent(room: Room, limit: int) -> list[dict[str, Any]]:
    if limit <= 0:
        return []
    newest = Message.objects.for_wire().filter(room=room).order_by("-id")[:limit]
    return [m.to_wire() for m in reversed(list(newest))]


def _since(room: Room, last_id: int, cap: int) -> tuple[list[dict[str, Any]], bool]:
    rows = list(
        Message.objects.for_wire().filter(room=room, id__gt=last_id).order_by("id")[: cap + 1]
    )
    return [m.to_wire() for m in rows[:cap]], len(rows) > cap


async def history_frame(room: Room, since: int | None, length: int, cap: int) -> dict[str, Any]:
    """The ``history`` frame sent on join: the last ``length``, or everything after ``since``
    up to ``cap`` (``"truncated": true`` when the cap cut it)."""
    with database_call("load history"):
        if since is None:
            messages = await database_sync_to_async(_recent)(room, length)
            return {"type": "history", "messages": messages, "truncated": False}
        messages, truncated = await database_sync_to_async(_since)(room, since, cap)
        return {"type": "history", "messages": messages, "truncated": truncated}
