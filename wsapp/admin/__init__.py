"""The admin a site operator runs rooms from: live counts, and changes that reach open sockets.

Every change that should affect connected users (archive, ban, a removed membership, a room made
private, an announcement) is saved first and pushed to the sockets through the ``wsapp.rooms`` API
only once the transaction commits. That order matters: a kicked client that reconnects at once must
find the ban already in the database, and a rolled-back change must not have closed anyone.
A push that fails (layer down, API missing) is logged and reported as a warning: the database
change stands, and the consumers' connect-time checks enforce it on the next connect.

The rooms API is imported inside each call (``from wsapp import rooms``), so this module loads
without it and never pulls the channel layer into ``manage.py`` commands that do not need it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from wsapp.codes import CloseCode
from wsapp.models import Membership, Message, Room

logger = logging.getLogger(__name__)

USERNAME_LOOKUP = f"user__{get_user_model().USERNAME_FIELD}"

ARCHIVED_REASON = gettext_lazy("This room has been archived.")
DELETED_REASON = gettext_lazy("This room has been deleted.")
BANNED_REASON = gettext_lazy("You are banned from this room.")
NOT_A_MEMBER_REASON = gettext_lazy("You are no longer a member of this room.")
# RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of them the close code.
MAX_CLOSE_REASON_BYTES = 123


def after_commit(
    modeladmin: admin.ModelAdmin, request: HttpRequest, push: Callable[[ModuleType], None]
) -> None:
    """Run ``push(wsapp.rooms)`` once the current transaction commits; report, never raise."""

    def run() -> None:
        try:
            from wsapp import rooms

            push(rooms)
        except Exception:  # ImportError included: the change is saved either way
            logger.exception("Live update from the admin failed; the database change stands.")
            modeladmin.message_user(
                request,
                _("Saved, but open connections were not updated (see the server log)."),
                messages.WARNING,
            )

    transaction.on_commit(run, using=router.db_for_write(modeladmin.model))


def online_users(slug: str) -> list[str] | None:
    """Usernames online in a room across all processes, or ``None`` when presence is unreachable.

    A down channel layer must not take the admin down with it: the page renders with a blank.
    """
    try:
        from wsapp import rooms
    except ImportError:
        return None
    try:
        return list(rooms.online(slug))
    except Exception:
        logger.exception("Could not read presence for room %r.", slug)
        return None


def kick_memberships(rooms: ModuleType, memberships: Iterable[Membership], reason: str) -> None:
    """Close each membership's user's sockets in its room with 4403, on every process."""
    for m in memberships:
        rooms.kick(m.room.slug, m.user, code=CloseCode.FORBIDDEN, reason=str(reason))


def kick_non_members(rooms: ModuleType, room: Room) -> None:
    """Close the sockets of online users who are not members: the room just became private."""
    online = set(rooms.online(room.slug))
    if not online:
        return
    user_model = get_user_model()
    members = set(room.memberships.filter(is_banned=False).values_list(USERNAME_LOOKUP, flat=True))
    outsiders = user_model._default_manager.filter(
        **{f"{user_model.USERNAME_FIELD}__in": online - members}
    )
    for user in outsiders:
        rooms.kick(room.slug, user, code=CloseCode.FORBIDDEN, reason=_("This room is now private."))


class AnnounceForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=gettext_lazy("Sent now to everyone online, and kept in the room's history."),
    )


class ArchiveForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        initial=ARCHIVED_REASON,
        max_length=MAX_CLOSE_REASON_BYTES,
        help_text=gettext_lazy("Shown to connected users as their sockets close (code 4410)."),
    )

    def clean_reason(self) -> str:
        # The reason also rides in the close frame, whose limit is in bytes, not characters.
        reason: str = self.cleaned_data["reason"]
        if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
            raise forms.ValidationError(
                _("At most %(limit)d bytes in UTF-8.") % {"limit": MAX_CLOSE_REASON_BYTES}
            )
        return reason


def action_form_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    form: forms.Form,
    title: str,
    intro: str,
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input before it runs.

    It posts back to the changelist with the same ``action`` and selection plus ``apply``, which
    the action reads as "the form was submitted".
    """
    opts = modeladmin.model._meta
    rows = [(room, online_users(room.slug)) for room in queryset]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "opts": opts,
        "queryset": queryset,
        "rows": rows,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/wsapp/room/action_form.html", context)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "is_banned", "joined_at"]
    readonly_fields = ["joined_at"]
    # raw_id works with any user model; autocomplete would need its admin to define search_fields.
    raw_id_fields = ["user"]
    show_change_link = True


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "title",
        "is_private",
        "is_archived",
        "member_count",
        "online_count",
        "created_at",
    ]
    list_filter = ["is_private", "is_archived", "allow_anonymous", "created_at"]
    search_fields = ["slug", "title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["created_at"]
    raw_id_fields = ["created_by"]
    inlines = [MembershipInline]
    actions = ["announce", "archive_and_disconnect", "unarchive"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return super().get_queryset(request).with_member_count()

    def get_readonly_fields(self, request: HttpRequest, obj: Room | None = None) -> list[str]:
        # The slug is the room's address on the wire, its group and its presence key: renaming a
        # live room would strand its sockets, so it is fixed once the room exists.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else [*fields, "slug"]

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: Room | None = None
    ) -> dict[str, Any]:
        return super().get_prepopulated_fields(request, obj) if obj is None else {}

    @admin.display(description=gettext_lazy("members"), ordering="member_count")
    def member_count(self, obj: Room) -> int:
        return int(obj.member_count)

    @admin.display(description=gettext_lazy("online"))
    def online_count(self, obj: Room) -> int | None:
        users = online_users(obj.slug)
        return None if users is None else len(users)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        room = self.get_object(request, object_id)
        live = {"online_users": online_users(room.slug)} if room is not None else {}
        return super().change_view(request, object_id, form_url, {**live, **(extra_context or {})})

    def save_model(
        self, request: HttpRequest, obj: Room, form: forms.ModelForm, change: bool
    ) -> None:
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if change and "is_archived" in form.changed_data and obj.is_archived:
            slugs = [obj.slug]
            after_commit(self, request, lambda rooms: close_rooms(rooms, slugs, ARCHIVED_REASON))
        elif change and "is_private" in form.changed_data and obj.is_private:
            after_commit(self, request, lambda rooms: kick_non_members(rooms, obj))

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool
    ) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is not Membership:
            return
        banned = [m for m in formset.new_objects if m.is_banned] + [
            m for m, fields in formset.changed_objects if "is_banned" in fields and m.is_banned
        ]
        removed = [m for m in formset.deleted_objects if m.room.is_private and not m.is_banned]
        if banned:
            after_commit(
                self, request, lambda rooms: kick_memberships(rooms, banned, BANNED_REASON)
            )
        if removed:
            after_commit(
                self, request, lambda rooms: kick_memberships(rooms, removed, NOT_A_MEMBER_REASON)
            )

    def delete_model(self, request: HttpRequest, obj: Room) -> None:
        self.delete_queryset(request, Room.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        slugs = list(queryset.values_list("slug", flat=True))
        super().delete_queryset(request, queryset)
        after_commit(self, request, lambda rooms: close_rooms(rooms, slugs, DELETED_REASON))

    @admin.action(
        description=gettext_lazy("Announce to the selected rooms…"), permissions=["change"]
    )
    def announce(self, request: HttpRequest, queryset: QuerySet[Room]) -> TemplateResponse | None:
        """Store a system message (``user=None``) in each live room, then broadcast it."""
        form = AnnounceForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                action="announce",
                form=form,
                title=_("Announce to rooms"),
                intro=_("This message goes to everyone online in these rooms, as the system."),
            )
        rooms_ = list(queryset.filter(is_archived=False))
        skipped = len(queryset) - len(rooms_)
        with transaction.atomic(using=router.db_for_write(Message)):
            sent = [
                Message.objects.create(room=r, user=None, body=form.cleaned_data["body"])
                for r in rooms_
            ]
            for room in rooms_:
                self.log_change(request, room, _("Announced: %s") % form.cleaned_data["body"])
            after_commit(self, request, lambda rooms: broadcast_messages(rooms, sent))
        self.message_user(
            request,
            ngettext("Announced to %d room.", "Announced to %d rooms.", len(sent)) % len(sent),
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext("Skipped %d archived room.", "Skipped %d archived rooms.", skipped)
                % skipped,
                messages.WARNING,
            )
        return None

    @admin.action(description=gettext_lazy("Archive and disconnect…"), permissions=["change"])
    def archive_and_disconnect(
        self, request: HttpRequest, queryset: QuerySet[Room]
    ) -> TemplateResponse | None:
        """Archive, then send live members ``room.closed`` and close them with 4410."""
        form = ArchiveForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return action_form_page(
                self,
                request,
                queryset,
                action="archive_and_disconnect",
                form=form,
                title=_("Archive and disconnect"),
                intro=_(
                    "These rooms will refuse new connections, and everyone online is disconnected."
                ),
            )
        reason = form.cleaned_data["reason"]
        selected = list(queryset)
        with transaction.atomic(using=router.db_for_write(Room)):
            Room.objects.filter(pk__in=[r.pk for r in selected]).update(is_archived=True)
            for room in selected:
                self.log_change(request, room, _("Archived and disconnected: %s") % reason)
            slugs = [r.slug for r in selected]
            after_commit(self, request, lambda rooms: close_rooms(rooms, slugs, reason))
        self.message_user(
            request,
            ngettext("Archived %d room.", "Archived %d rooms.", len(selected)) % len(selected),
            messages.SUCCESS,
        )
        return None

    @admin.action(description=gettext_lazy("Unarchive"), permissions=["change"])
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        count = queryset.filter(is_archived=True).update(is_archived=False)
        self.message_user(
            request,
            ngettext("Unarchived %d room.", "Unarchived %d rooms.", count) % count,
            messages.SUCCESS,
        )


def broadcast_messages(rooms: ModuleType, sent: Iterable[Message]) -> None:
    """Send each stored message to its room's live members, as history will replay it."""
    for message in sent:
        rooms.broadcast(message.room.slug, message.to_wire())


def close_rooms(rooms: ModuleType, slugs: Iterable[str], reason: str) -> None:
    """Send ``room.closed`` to each room's live members and close them with 4410."""
    for slug in slugs:
        rooms.close(slug, code=CloseCode.ROOM_CLOSED, reason=str(reason))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["room", "user", "role", "is_banned", "joined_at"]
    list_filter = ["role", "is_banned", "room"]
    search_fields = ["room__slug", "room__title", USERNAME_LOOKUP]
    list_select_related = ["room", "user"]
    autocomplete_fields = ["room"]
    raw_id_fields = ["user"]
    readonly_fields = ["joined_at"]
    actions = ["ban", "unban"]

    def save_model(
        self, request: HttpRequest, obj: Membership, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if "is_banned" in form.changed_data and obj.is_banned:
            after_commit(self, request, lambda rooms: kick_memberships(rooms, [obj], BANNED_REASON))

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        self.delete_queryset(request, Membership.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        # Losing membership of a private room is losing access to it, now.
        removed = list(
            queryset.filter(room__is_private=True, is_banned=False).select_related("room", "user")
        )
        super().delete_queryset(request, queryset)
        if removed:
            after_commit(
                self, request, lambda rooms: kick_memberships(rooms, removed, NOT_A_MEMBER_REASON)
            )

    @admin.action(description=gettext_lazy("Ban (disconnects them now)"), permissions=["change"])
    def ban(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        """Ban, then close the users' sockets in those rooms with 4403 on every process."""
        selected = list(queryset.select_related("room", "user"))
        with transaction.atomic(using=router.db_for_write(Membership)):
            Membership.objects.filter(pk__in=[m.pk for m in selected]).update(is_banned=True)
            for membership in selected:
                self.log_change(request, membership, _("Banned."))
            after_commit(
                self, request, lambda rooms: kick_memberships(rooms, selected, BANNED_REASON)
            )
        self.message_user(
            request,
            ngettext("Banned %d user.", "Banned %d users.", len(selected)) % len(selected),
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("Lift the ban"), permissions=["change"])
    def unban(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        count = queryset.filter(is_banned=True).update(is_banned=False)
        self.message_user(
            request,
            ngettext("Lifted %d ban.", "Lifted %d bans.", count) % count,
            messages.SUCCESS,
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "client_id", "created_at"]
    list_filter = ["room"]
    search_fields = ["body", USERNAME_LOOKUP, "room__slug", "client_id"]
    date_hierarchy = "created_at"
    list_select_related = ["room", "user"]
    autocomplete_fields = ["room"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]
    ordering = ["-id"]
    # COUNT(*) over a large message table is slow on PostgreSQL; the changelist does without it.
    show_full_result_count = False

    @admin.display(description=gettext_lazy("user"), ordering="user")
    def author(self, obj: Message) -> str:
        return str(obj.user) if obj.user is not None else _("(system)")

    @admin.display(description=gettext_lazy("body"))
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"
