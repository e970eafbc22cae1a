"""The hub's input contract: every channel-layer message a hub acts on, and the groups they go to.

Each message is a ``TypedDict`` built by exactly one constructor below; publishers (the hub's
:func:`~wsapp.hub.publish.publish_to_room`, :mod:`wsapp.rooms.api`) never write the dicts by
hand, and the hub keys its handler table by the same ``type`` constants. A message travels
through ``group_send`` to a *group*, whose members are hub channels (one per process with a
local member), never individual sockets. Messages cross processes, possibly of two versions
during a rolling deploy: a hub ignores (and logs) a ``type`` it does not know, and a new field
must be optional for the older reader.

``wsapp.broadcast`` — to :func:`room_group` ``(room)``; sent for ``rooms.broadcast()``: chat
messages, typing, presence diffs, announcements.
    ``room`` (str): the room's slug.
    ``text`` (str): the frame, JSON-encoded once by the sender; every hub writes it as is.
    ``exclude`` (list[str]): socket ids that must not get it (the sender's own socket).
    ``id`` (int | None): a chat message's id; a hub skips a joiner whose history already
    carried that id (its floor), so a message is never delivered twice.
    ``raw`` (bool, optional): sent by ``rooms.broadcast_raw()``: ``text`` is not JSON, or
    ``bytes`` (bytes, optional, instead of ``text``) is a binary frame; plain sockets get it
    unchanged, multiplexed ones wrapped (see :func:`wsapp.hub.delivery.topic_frame`).
    Each hub writes the frame to its local members of ``room``, holding it back for a joiner
    that is still sending its history.

``wsapp.close_room`` — to :func:`room_group` ``(room)``; sent by ``rooms.close()`` (an archive,
a deleted room).
    ``room`` (str), ``code`` (int, a ``CloseCode``), ``reason`` (str, at most 123 UTF-8 bytes).
    ``text`` (str | None): a frame sent to each member before the close (``room.closed``).
    Each hub sends ``text`` to its local members of ``room``, then closes them with ``code``.

``wsapp.kick`` — to :func:`room_group` ``(room)``; sent by ``rooms.kick()`` (a ban, a removed
membership, a room made private).
    ``room`` (str), ``user`` (str, the user key: the user's pk), ``code`` (int), ``reason`` (str).
    Each hub closes the sockets of ``user`` that are members of ``room``; the user's other
    sockets stay open.

``wsapp.close_user`` — to :func:`user_group` ``(user)``; sent by ``rooms.close_user()`` (a
logout, a deactivation, a password change).
    ``user`` (str), ``code`` (int), ``reason`` (str).
    Each hub closes every local socket of ``user``, in any room or none.

``wsapp.to_user`` — to :func:`user_group` ``(user)``; sent by ``rooms.send_to_user()`` (a
notification for one person, from a view, a signal or a task queue).
    ``user`` (str), ``text`` (str, the frame, JSON-encoded once by the sender).
    Each hub writes the frame to every local socket of ``user``, in any room or none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, NotRequired, TypedDict

BROADCAST: Final = "wsapp.broadcast"
CLOSE_ROOM: Final = "wsapp.close_room"
KICK: Final = "wsapp.kick"
CLOSE_USER: Final = "wsapp.close_user"
TO_USER: Final = "wsapp.to_user"

# One rule for every room slug and user key, so a name valid for one part of wsapp is valid for all.
_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,99}$")
PREFIX = "wsapp"


class Broadcast(TypedDict):
    type: str
    room: str
    text: NotRequired[str]
    bytes: NotRequired[bytes]
    exclude: list[str]
    id: int | None
    raw: NotRequired[bool]


class CloseRoom(TypedDict):
    type: str
    room: str
    code: int
    reason: str
    text: str | None


class Kick(TypedDict):
    type: str
    room: str
    user: str
    code: int
    reason: str


class CloseUser(TypedDict):
    type: str
    user: str
    code: int
    reason: str


class ToUser(TypedDict):
    type: str
    user: str
    text: str


HubMessage = Broadcast | CloseRoom | Kick | CloseUser | ToUser


def broadcast(
    room: str, text: str, exclude: Iterable[str] = (), message_id: int | None = None
) -> Broadcast:
    """``text`` (already encoded) for every member of ``room`` but the ``exclude`` socket ids."""
    return {
        "type": BROADCAST,
        "room": room,
        "text": text,
        "exclude": list(exclude),
        "id": message_id,
    }


def raw_broadcast(room: str, data: str | bytes, exclude: Iterable[str] = ()) -> Broadcast:
    """``data`` unchanged (a text frame for ``str``, a binary one for ``bytes``) for ``room``."""
    message: Broadcast = {
        "type": BROADCAST,
        "room": room,
        "exclude": list(exclude),
        "id": None,
        "raw": True,
    }
    if isinstance(data, str):
        message["text"] = data
    else:
        message["bytes"] = bytes(data)
    return message


def close_room(room: str, code: int, reason: str, text: str | None = None) -> CloseRoom:
    """Send ``text`` (if any) to every member of ``room``, then close them with ``code``."""
    return {"type": CLOSE_ROOM, "room": room, "code": int(code), "reason": reason, "text": text}


def kick(room: str, user: str, code: int, reason: str) -> Kick:
    """Close the sockets of user key ``user`` that are in ``room`` with ``code``."""
    return {"type": KICK, "room": room, "user": user, "code": int(code), "reason": reason}


def close_user(user: str, code: int, reason: str) -> CloseUser:
    """Close every socket of user key ``user``, on every process, with ``code``."""
    return {"type": CLOSE_USER, "user": user, "code": int(code), "reason": reason}


def to_user(user: str, text: str) -> ToUser:
    """``text`` (already encoded) for every socket of user key ``user``, on every process."""
    return {"type": TO_USER, "user": user, "text": text}


def _checked(kind: str, key: str) -> str:
    if not isinstance(key, str) or not _NAME.match(key):
        raise ValueError(f"{key!r} is not a valid {kind} key: use 1-99 of [a-zA-Z0-9._-].")
    return f"{PREFIX}.{kind}.{key}"


def room_group(slug: str) -> str:
    """The group every process with a member of room ``slug`` joins (its hub channel does).

    Raises:
        ValueError: ``slug`` is not 1-99 of ``[a-zA-Z0-9._-]``.
    """
    return _checked("room", slug)


def user_group(user_key: str) -> str:
    """The group of the processes holding sockets of one user (logout, bans, caps).

    Raises:
        ValueError: ``user_key`` is not 1-99 of ``[a-zA-Z0-9._-]``.
    """
    return _checked("user", user_key)
