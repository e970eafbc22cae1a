"""The forms of the rooms admin's actions, and the intermediate page that asks for them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wsapp.codes import MAX_CLOSE_REASON_BYTES
from wsapp.rooms.moderation import ARCHIVED_REASON

# RFC 6455 §5.5: a control frame's payload is at most 125 bytes, two of them the close code.


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
    rows: list[tuple[Any, list[str] | None]],
    *,
    action: str,
    form: forms.Form,
    title: str,
    intro: str,
) -> TemplateResponse:
    """The intermediate page of an admin action that needs input before it runs.

    ``rows`` are the selected objects with who is online in each. The page posts back to the
    changelist with the same ``action`` and selection plus ``apply``, which the action reads as
    "the form was submitted".
    """
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "opts": modeladmin.model._meta,
        "queryset": queryset,
        "rows": rows,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/wsapp/room/action_form.html", context)
