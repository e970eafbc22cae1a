"""Rooms, who belongs to them, and what was said in them: the durable half of ``wsapp.rooms``.

The live half (hub, presence, the ``broadcast``/``close``/``kick`` API) keeps no state of its own
that must survive a restart; everything that must lives here. Two promises shape these models:

- **Ids only grow.** ``Message`` ids are ``BigAutoField``s and history is read in id order, so a
  client that reconnects with ``?since=<last id>`` asks for ``id > since``. (SQLite's
  ``AUTOINCREMENT``, which Django uses, never reuses an id; PostgreSQL's sequences never go back.)
- **A retry is stored once.** A client sends each chat message with its own ``client_id``; the
  unique constraint on ``(room, user, client_id)`` turns a resend after a dropped ack into an
  ``IntegrityError`` the rooms code answers with the first message's id.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    UserLike: TypeAlias = AbstractBaseUser | AnonymousUser | None

#: Longest room slug. Channels caps group names below 100 characters and the room's group name is
#: ``f"{prefix}.room.{slug}"`` (STYLE rule 9), so the slug leaves room for a prefix.
SLUG_MAX_LENGTH = 64
#: Longest ``client_id`` a client may send (a UUID is 36 characters).
CLIENT_ID_MAX_LENGTH = 64


class RoomQuerySet(models.QuerySet["Room"]):
    """Room queries the rooms code and the admin share."""

    def active(self) -> RoomQuerySet:
        """Rooms that accept connections: archived rooms are closed to everyone."""
        return self.filter(is_archived=False)

    def with_member_count(self) -> RoomQuerySet:
        """Annotate ``member_count``: memberships that are not bans (a ban is not a member)."""
        return self.annotate(
            member_count=Count("memberships", filter=Q(memberships__is_banned=False))
        )


RoomManager = models.Manager.from_queryset(RoomQuerySet)


class Room(models.Model):
    """A chat room, addressed on the wire and in URLs by its ``slug``."""

    slug = models.SlugField(
        _("slug"),
        max_length=SLUG_MAX_LENGTH,
        unique=True,
        help_text=_("Used in the socket URL: /ws/chat/<slug>/. Letters, digits, - and _."),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    is_private = models.BooleanField(
        _("private"), default=False, help_text=_("Only members may join.")
    )
    is_archived = models.BooleanField(
        _("archived"),
        default=False,
        help_text=_("Archived rooms refuse connections (close code 4410)."),
    )
    allow_anonymous = models.BooleanField(
        _("anonymous readers"),
        default=False,
        help_text=_(
            "Visitors who are not logged in may read this room (history, presence, live "
            "messages) — only if the site's RoomConsumer allows anonymous readers too."
        ),
    )
    max_members = models.PositiveIntegerField(
        _("max members"),
        null=True,
        blank=True,
        help_text=_("Most users online at once; empty means no limit."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = RoomManager()

    class Meta:
        ordering = ["slug"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.slug

    def _membership(self, user: UserLike) -> models.QuerySet[Membership] | None:
        # Anonymous users are never members and never banned: a ban needs an account to name.
        if user is None or not user.is_authenticated:
            return None
        return self.memberships.filter(user_id=user.pk)

    def is_member(self, user: UserLike) -> bool:
        """Whether ``user`` has a membership here that is not a ban.

        A banned user keeps the row (so the ban is remembered) but is no member: checking
        ``is_member`` alone is enough to keep them out of a private room.
        """
        memberships = self._membership(user)
        return memberships is not None and memberships.filter(is_banned=False).exists()

    def is_banned(self, user: UserLike) -> bool:
        """Whether ``user`` is banned from this room (public rooms included)."""
        memberships = self._membership(user)
        return memberships is not None and memberships.filter(is_banned=True).exists()

    async def ais_member(self, user: UserLike) -> bool:
        """Async twin of :meth:`is_member`, for consumers."""
        memberships = self._membership(user)
        return memberships is not None and await memberships.filter(is_banned=False).aexists()

    async def ais_banned(self, user: UserLike) -> bool:
        """Async twin of :meth:`is_banned`, for consumers."""
        memberships = self._membership(user)
        return memberships is not None and await memberships.filter(is_banned=True).aexists()


class Membership(models.Model):
    """A user's standing in one room: member or moderator, and whether they are banned."""

    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        MODERATOR = "moderator", _("moderator")

    # The unique (room, user) index serves lookups by room, so the FK needs no index of its own.
    room = models.ForeignKey(
        Room,
        verbose_name=_("room"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="wsapp_memberships",
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    is_banned = models.BooleanField(
        _("banned"),
        default=False,
        help_text=_("Banned users are refused (close code 4403), even from public rooms."),
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="wsapp_membership_room_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"


class MessageQuerySet(models.QuerySet["Message"]):
    """Message queries; history reads use :meth:`for_wire` so ``to_wire`` costs no query."""

    def for_wire(self) -> MessageQuerySet:
        """Join what :meth:`Message.to_wire` reads (the room's slug, the author's username)."""
        return self.select_related("room", "user")


MessageManager = models.Manager.from_queryset(MessageQuerySet)


class Message(models.Model):
    """One chat message; ``user`` is ``None`` for system messages (admin announcements)."""

    # The (room, id) index below serves every lookup by room, so the FK's own index is redundant.
    room = models.ForeignKey(
        Room,
        verbose_name=_("room"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wsapp_messages",
    )
    body = models.TextField(_("body"))
    client_id = models.CharField(
        _("client id"),
        max_length=CLIENT_ID_MAX_LENGTH,
        blank=True,
        default="",
        help_text=_("The sender's id for this message, so a retry is stored once."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = MessageManager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            # History: the last N of a room (ORDER BY id DESC LIMIT N) and resume (id > since).
            models.Index(fields=["room", "id"], name="wsapp_message_room_id"),
        ]
        constraints = [
            # Only messages that carry a client_id are deduplicated: system messages and
            # clients that send none store every message. (SQL treats NULL users as distinct,
            # so anonymous posts are not deduplicated by the database either.)
            models.UniqueConstraint(
                fields=["room", "user", "client_id"],
                condition=~Q(client_id=""),
                name="wsapp_message_room_user_client_id",
            ),
        ]

    def __str__(self) -> str:
        author = self.user if self.user_id is not None else "system"
        body = self.body if len(self.body) <= 40 else self.body[:39] + "…"
        return f"#{self.pk} {author} in {self.room}: {body}"

    def to_wire(self) -> dict[str, Any]:
        """The ``chat.message`` frame clients get for this message, live and in ``history``:
        ``{"type", "id", "room", "user" (None for a system message), "body", "client_id", "ts"}``.

        Reads ``room`` and ``user``: load messages with :meth:`MessageQuerySet.for_wire`.
        """
        return {
            "type": "chat.message",
            "id": self.pk,
            "room": self.room.slug,
            "user": self.user.get_username() if self.user is not None else None,
            "body": self.body,
            "client_id": self.client_id,
            "ts": wire_timestamp(self.created_at),
        }


def wire_timestamp(value: datetime.datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``, as ``DjangoJSONEncoder`` writes datetimes."""
    utc = value.astimezone(datetime.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
