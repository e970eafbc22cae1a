"""The admin a site operator runs rooms from: live counts, and changes that reach open sockets.

Only ``ModelAdmin``s here (forms in :mod:`wsapp.admin.forms`): what a change does to the open
sockets — archive and disconnect, ban and kick, a removed membership, a room made private, an
announcement — is :mod:`wsapp.rooms.moderation`'s, each saved first and pushed on commit. The
admin adds what an operator sees: a warning when a push failed (the change stands), and who is
online, left blank when presence is unreachable rather than failing the page.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from wsapp.admin.forms import AnnounceForm, ArchiveForm, action_form_page
from wsapp.models import Membership, Message, Room
from wsapp.rooms import api, moderation

logger = logging.getLogger(__name__)

USERNAME_LOOKUP = f"user__{get_user_model().USERNAME_FIELD}"


def warn_on_failure(modeladmin: admin.ModelAdmin, request: HttpRequest) -> moderation.OnError:
    """A moderation ``on_error`` that logs the failed push and warns the operator."""

    def warn(exc: Exception) -> None:
        logger.error("Live update from the admin failed; the database change stands.", exc_info=exc)
        modeladmin.message_user(
            request,
            _("Saved, but open connections were not updated (see the server log)."),
            messages.WARNING,
        )

    return warn


def online_users(slug: str) -> list[str] | None:
    """Usernames online in a room across all processes, or ``None`` when presence is unreachable.

    A down channel layer must not take the admin down with it: the page renders with a blank.
    """
    try:
        return list(api.online(slug))
    except Exception:
        logger.exception("Could not read presence for room %r.", slug)
        return None


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

    def _online_rows(self, queryset: QuerySet[Room]) -> list[tuple[Room, list[str] | None]]:
        return [(room, online_users(room.slug)) for room in queryset]

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
        warn = warn_on_failure(self, request)
        if change and "is_archived" in form.changed_data and obj.is_archived:
            moderation.archive([obj], on_error=warn)
        elif change and "is_private" in form.changed_data and obj.is_private:
            moderation.make_private(obj, on_error=warn)

    def save_formset(
        self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool
    ) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is not Membership:
            return
        banned = [m for m in formset.new_objects if m.is_banned] + [
            m for m, fields in formset.changed_objects if "is_banned" in fields and m.is_banned
        ]
        warn = warn_on_failure(self, request)
        if banned:
            moderation.ban(banned, on_error=warn)
        if formset.deleted_objects:  # deleted by the formset already: only pushed
            moderation.remove(formset.deleted_objects, on_error=warn)

    def delete_model(self, request: HttpRequest, obj: Room) -> None:
        self.delete_queryset(request, Room.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        moderation.delete(queryset, on_error=warn_on_failure(self, request))

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
                self._online_rows(queryset),
                action="announce",
                form=form,
                title=_("Announce to rooms"),
                intro=_("This message goes to everyone online in these rooms, as the system."),
            )
        body = form.cleaned_data["body"]
        selected = list(queryset)
        with transaction.atomic(using=router.db_for_write(Message)):
            sent = moderation.announce(selected, body, on_error=warn_on_failure(self, request))
            for message in sent:
                self.log_change(request, message.room, _("Announced: %s") % body)
        skipped = len(selected) - len(sent)
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
                self._online_rows(queryset),
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
            moderation.archive(selected, reason, on_error=warn_on_failure(self, request))
            for room in selected:
                self.log_change(request, room, _("Archived and disconnected: %s") % reason)
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
            moderation.ban([obj], on_error=warn_on_failure(self, request))

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        self.delete_queryset(request, Membership.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        # Losing membership of a private room is losing access to it, now.
        memberships = queryset.select_related("room", "user")
        moderation.remove(memberships, on_error=warn_on_failure(self, request))

    @admin.action(description=gettext_lazy("Ban (disconnects them now)"), permissions=["change"])
    def ban(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        """Ban, then close the users' sockets in those rooms with 4403 on every process."""
        selected = list(queryset.select_related("room", "user"))
        with transaction.atomic(using=router.db_for_write(Membership)):
            moderation.ban(selected, on_error=warn_on_failure(self, request))
            for membership in selected:
                self.log_change(request, membership, _("Banned."))
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
