"""Channel-layer group names: one function per kind, validated, so every part agrees."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,99}$")
PREFIX = "wsapp"


def _checked(kind: str, key: str) -> str:
    if not isinstance(key, str) or not _NAME.match(key):
        raise ValueError(f"{key!r} is not a valid {kind} key: use 1-99 of [a-zA-Z0-9._-].")
    return f"{PREFIX}.{kind}.{key}"


def room_group(slug: str) -> str:
    """The group every process with a member of room ``slug`` joins (its hub channel does)."""
    return _checked("room", slug)


def user_group(user_key: str) -> str:
    """The group of the processes holding sockets of one user (logout, bans, caps)."""
    return _checked("user", user_key)
