"""Moderating rooms: each change is saved first, then pushed to the open sockets on commit.

For the admin, ``manage.py rooms`` and a project's own views alike. The order is the rule:
the database change is made in the caller's transaction (or one of its own), and the sockets
are told only once that transaction commits (``transaction.on_commit``). A kicked client that
reconnects at once then finds the ban already in the database, and a change that rolls back
has closed nobody. A push that fails (the channel layer is away) is logged, and reported to
``on_error`` when given: the database change stands, and the consumers' connect-time checks
enforce it on the next connect.

Every close here uses an application code a client must not reconnect after: 4410 for an
archived or deleted room, 4403 for a ban, a lost membership or a room made private.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from wsapp.codes import CloseCode
from wsapp.models import Membership, Message, Room
from wsapp.rooms import api

logger = logging.getLogger("wsapp.rooms")

ARCHIVED_REASON = gettext_lazy("This room has been archived.")
DELETED_REASON = gettext_lazy("This room has been deleted.")
BANNED_REASON = gettext_lazy("You are banned from this room.")
NOT_A_MEMBER_REASON = gettext_lazy("You are no longer a member of this room.")
PRIVATE_REASON = gettext_lazy("This room is now private.")

#: Told of a push that failed after its change was committed (the change stands either way).
OnError = Callable[[Exception], None]


def archive(
    rooms: Iterable[Room], reason: str = ARCHIVED_REASON, *, on_error: OnError | None = None
) -> list[Room]:
    """Archive ``rooms``; on commit, send their live members ``room.closed`` and close them
    with 4410 and ``reason`` (at most 123 UTF-8 bytes: it rides in the close frame).

    Returns:
        The rooms archived.
    """
    selected = list(rooms)
    slugs = [room.slug for room in selected]
    with transaction.atomic(using=router.db_for_write(Room)):
        Room.objects.filter(pk__in=[room.pk for room in selected]).update(is_archived=True)
        _push_on_commit(Room, lambda: _close_rooms(slugs, reason), on_error)
    for room in selected:
        room.is_archived = True
    return selected


def delete(rooms: QuerySet[Room], *, on_error: OnError | None = None) -> list[str]:
    """Delete ``rooms`` (their memberships and messages with them); on commit, send their live
    members ``room.closed`` and close them with 4410.

    Returns:
        The slugs of the rooms deleted.
    """
    slugs = list(rooms.values_list("slug", flat=True))
    with transaction.atomic(using=router.db_for_write(Room)):
        rooms.delete()
        _push_on_commit(Room, lambda: _close_rooms(slugs, DELETED_REASON), on_error)
    return slugs


def ban(
    memberships: Iterable[Membership],
    reason: str = BANNED_REASON,
    *,
    on_error: OnError | None = None,
) -> list[Membership]:
    """Ban each membership's user from its room; on commit, close the user's sockets in that
    room with 4403 on every process (their other rooms are untouched).

    Returns:
        The memberships banned.
    """
    selected = list(memberships)
    with transaction.atomic(using=router.db_for_write(Membership)):
        Membership.objects.filter(pk__in=[m.pk for m in selected]).update(is_banned=True)
        _push_on_commit(Membership, lambda: _kick(selected, reason), on_error)
    for membership in selected:
        membership.is_banned = True
    return selected


def remove(
    memberships: Iterable[Membership], *, on_error: OnError | None = None
) -> list[Membership]:
    """Delete ``memberships``; on commit, close with 4403 the sockets of those who lost access
    by it: members of a private room who were not banned (a public room stays open to them,
    and a banned user was kicked when banned).

    A membership already deleted (by a formset, say: its ``pk`` is ``None``) is not deleted
    again, only pushed.

    Returns:
        The memberships whose users were kicked.
    """
    selected = list(memberships)
    kicked = [m for m in selected if m.room.is_private and not m.is_banned]
    with transaction.atomic(using=router.db_for_write(Membership)):
        Membership.objects.filter(pk__in=[m.pk for m in selected if m.pk is not None]).delete()
        if kicked:
            _push_on_commit(Membership, lambda: _kick(kicked, NOT_A_MEMBER_REASON), on_error)
    return kicked


def make_private(room: Room, *, on_error: OnError | None = None) -> None:
    """Make ``room`` private; on commit, close with 4403 the sockets of the users online in it
    who are not (unbanned) members."""
    with transaction.atomic(using=router.db_for_write(Room)):
        Room.objects.filter(pk=room.pk).update(is_private=True)
        _push_on_commit(Room, lambda: _kick_non_members(room), on_error)
    room.is_private = True


def announce(rooms: Iterable[Room], body: str, *, on_error: OnError | None = None) -> list[Message]:
    """Store ``body`` as a system message (``user=None``) in each room that is not archived;
    on commit, broadcast each to its room's live members, as history will replay it.

    Returns:
        The messages stored (one per room announced to; archived rooms are skipped).
    """
    with transaction.atomic(using=router.db_for_write(Message)):
        sent = [
            Message.objects.create(room=room, user=None, body=body)
            for room in rooms
            if not room.is_archived
        ]
        _push_on_commit(Message, lambda: _broadcast(sent), on_error)
    return sent


def _push_on_commit(model: type[Any], push: Callable[[], None], on_error: OnError | None) -> None:
    def run() -> None:
        try:
            push()
        except Exception as exc:  # the change is saved either way
            if on_error is None:
                logger.exception("Live update of rooms failed; the database change stands.")
            else:
                on_error(exc)

    transaction.on_commit(run, using=router.db_for_write(model))


def _close_rooms(slugs: Iterable[str], reason: str) -> None:
    for slug in slugs:
        api.close(slug, code=CloseCode.ROOM_CLOSED, reason=str(reason))


def _kick(memberships: Iterable[Membership], reason: str) -> None:
    for m in memberships:
        api.kick(m.room.slug, m.user, code=CloseCode.FORBIDDEN, reason=str(reason))


def _kick_non_members(room: Room) -> None:
    online = set(api.online(room.slug))
    if not online:
        return
    user_model = get_user_model()
    username = user_model.USERNAME_FIELD
    members = set(
        room.memberships.filter(is_banned=False).values_list(f"user__{username}", flat=True)
    )
    outsiders = user_model._default_manager.filter(**{f"{username}__in": online - members})
    for user in outsiders:
        api.kick(room.slug, user, code=CloseCode.FORBIDDEN, reason=str(PRIVATE_REASON))


def _broadcast(sent: Iterable[Message]) -> None:
    for message in sent:
        api.broadcast(message.room.slug, message.to_wire())
