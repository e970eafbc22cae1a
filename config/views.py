"""The demo's pages: the rooms you may enter, one room's chat, and live online counts.

The pages render what they can on the server (rooms with their online counts, a room's recent
history) so the first paint is complete without JavaScript; the scripts then connect and keep
it live. The chat page is every room the user may enter over one socket (``/ws/topics/``): it
opens on one room, whose recent history it renders, and hands its script the id of the last
message it rendered, so that room's subscription resumes from there (``since``) instead of
sending the same history again; the other rooms of its sidebar get theirs when subscribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.management.commands.seed_demo import DEMO_USERS
from wsapp.conf import get_settings
from wsapp.models import Message, Room
from wsapp.rooms import online
from wsapp.routing import reverse as ws_reverse

#: The chat's wire protocol, offered by the page and negotiated by ``ChatTopicsConsumer``.
CHAT_SUBPROTOCOL = "wsapp.v1"
#: The limit the composer enforces before the server does (``max_body_length``).
MAX_BODY_LENGTH = 2000


def rooms_for(user: Any) -> QuerySet[Room]:
    """Rooms ``user`` may enter, by the same rules ``RoomConsumer`` applies at the handshake:
    public rooms unless banned, private rooms only as a (non-banned) member; archived never."""
    rooms = Room.objects.active()
    if not user.is_authenticated:
        return rooms.filter(is_private=False)
    banned = Q(memberships__user=user, memberships__is_banned=True)
    member = Q(memberships__user=user, memberships__is_banned=False)
    allowed = rooms.filter(Q(is_private=False) | member).exclude(
        pk__in=Room.objects.filter(banned).values("pk")
    )
    return allowed.distinct()


def online_counts(rooms: Iterable[Room]) -> dict[str, int]:
    """``{slug: users online}``, across every process sharing the channel layer."""
    return {room.slug: len(online(room.slug)) for room in rooms}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The rooms the visitor may enter, with who is online in each right now."""
    rooms = list(rooms_for(request.user))
    counts = online_counts(rooms)
    for room in rooms:
        room.online_count = counts[room.slug]  # type: ignore[attr-defined]
    return render(request, "chat/index.html", {"rooms": rooms})


@never_cache
@require_GET
def online_json(request: HttpRequest) -> JsonResponse:
    """``{"rooms": {slug: count}}`` for the home page's live counts; never cached."""
    return JsonResponse({"rooms": online_counts(rooms_for(request.user))})


@login_required
@require_GET
def room(request: HttpRequest, slug: str) -> HttpResponse:
    """The chat, opened on one room. Rooms the user may not enter are a 404, as if they did not
    exist; the sidebar lists (and the page subscribes to) every room the user may enter."""
    chat_room = Room.objects.filter(slug=slug).first()
    rooms = list(rooms_for(request.user))
    if chat_room is None or not (chat_room.is_archived or chat_room in rooms):
        raise Http404("No such room.")
    if chat_room not in rooms:
        # An archived room still renders: its subscription is then refused with 4410 and the
        # page says why, which is the demo's way to show a closed-with-reason room.
        rooms.append(chat_room)
    length = int(get_settings()["HISTORY_LENGTH"])
    recent = Message.objects.for_wire().filter(room=chat_room).order_by("-id")[:length]
    messages = [message.to_wire() for message in reversed(list(recent))]
    context = {
        "room": chat_room,
        "history": messages,
        "last_id": messages[-1]["id"] if messages else "",
        "ws_path": ws_reverse("topics"),
        "subprotocol": CHAT_SUBPROTOCOL,
        "max_length": MAX_BODY_LENGTH,
        "rooms": rooms,
    }
    return render(request, "chat/room.html", context)


def demo_logins() -> list[dict[str, str]]:
    """The seeded users and their passwords, for the login page's hint — under DEBUG only,
    where ``seed_demo`` sets them to ``<username>-demo``; otherwise they are secret."""
    if not settings.DEBUG:
        return []
    return [
        {"username": name, "password": f"{name}-demo", "role": "staff" if staff else "member"}
        for name, staff in DEMO_USERS
    ]


class DemoLoginView(LoginView):
    """Django's login view, plus the demo users to pick from under DEBUG."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "demo_logins": demo_logins()}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live dashboard for staff; anyone else logged in gets a 403 page that says why.

    The socket (``/ws/dashboard/``) enforces the same rule with 4403, so the page is a courtesy:
    a non-staff user sees the refusal instead of an empty dashboard that fails to connect.
    """
    if not request.user.is_staff:
        return render(request, "dashboard/index.html", {"refused": "Staff only."}, status=403)
    return render(request, "dashboard/index.html", {"ws_path": ws_reverse("dashboard")})
