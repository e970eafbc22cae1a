"""The rooms admin: pages an operator uses, and changes that reach open sockets after commit.

Most tests swap the rooms API's live calls for a recording fake, so they assert exactly which live calls an
admin change makes; the last ones run the real API against sockets on the in-process stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.urls import reverse

from tests.support.timing import scaled
from tests.wsapp.helpers import FakeRooms
from wsapp.codes import CloseCode
from wsapp.models import Membership, Message, Room

pytestmark = pytest.mark.django_db

ROOMS = reverse("admin:wsapp_room_changelist")
MEMBERSHIPS = reverse("admin:wsapp_membership_changelist")
MESSAGES = reverse("admin:wsapp_message_changelist")


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> FakeRooms:
    return FakeRooms.install(monkeypatch)


@pytest.fixture
def no_channel_layer(settings: Any) -> Iterator[None]:
    """The rooms API cannot load its channel layer (the backend does not import, as when
    channels_redis is missing): every live call raises."""
    channel_layers.backends = {}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.wsapp.no_such_module.Layer"}}
    yield
    channel_layers.backends = {}


class CommittingClient:
    """The superuser's test client, with on_commit callbacks run as a real request's commit would.

    The test database wraps each test in a transaction that never commits, so without this the
    admin's live calls would never run.
    """

    def __init__(self, client: Any, capture: Any) -> None:
        self.client, self.capture = client, capture

    def get(self, *args: Any, **kwargs: Any) -> Any:
        with self.capture(execute=True):
            return self.client.get(*args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        with self.capture(execute=True):
            return self.client.post(*args, **kwargs)


@pytest.fixture
def admin(admin_client: Any, django_capture_on_commit_callbacks: Any) -> CommittingClient:
    return CommittingClient(admin_client, django_capture_on_commit_callbacks)


@pytest.fixture
def lobby() -> Room:
    return Room.objects.create(slug="lobby", title="Lobby", description="Say hi")


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="bob-password")


def notices(response: HttpResponse) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def run_action(client: Any, url: str, action: str, objs: list[Any], **data: Any) -> Any:
    """Submit an action from the changelist (with ``index``) or an intermediate page (``apply``)."""
    post = {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objs], **data}
    if "apply" not in data:
        post["index"] = "0"
    return client.post(url, post)


def cell(name: str, value: Any) -> str:
    return f'<td class="field-{name}">{value}</td>'


# Rooms: changelist and change form -------------------------------------------------------------


def test_changelist_shows_member_and_online_counts(
    admin_client: Any, live: FakeRooms, lobby: Room, user: Any, bob: Any
) -> None:
    Membership.objects.create(room=lobby, user=user)
    Membership.objects.create(room=lobby, user=bob, is_banned=True)
    live.present["lobby"] = ["alice", "carol"]
    response = admin_client.get(ROOMS)
    assert response.status_code == 200
    html = response.content.decode()
    assert cell("member_count", 1) in html
    assert cell("online_count", 2) in html


def test_changelist_sorts_by_member_count(
    admin_client: Any, live: FakeRooms, lobby: Room, user: Any
) -> None:
    Room.objects.create(slug="empty", title="Empty")
    Membership.objects.create(room=lobby, user=user)
    columns = admin_client.get(ROOMS).context["cl"].list_display
    response = admin_client.get(ROOMS, {"o": f"-{columns.index('member_count')}"})
    assert [r.slug for r in response.context["cl"].result_list] == ["lobby", "empty"]


@pytest.mark.parametrize(
    "query",
    [{"q": "lobb"}, {"q": "say hi"}, {"is_archived__exact": "0"}, {"is_private__exact": "0"}],
    ids=["search-slug", "search-description", "filter-archived", "filter-private"],
)
def test_changelist_search_and_filters(
    admin_client: Any, live: FakeRooms, lobby: Room, query: dict[str, str]
) -> None:
    Room.objects.create(slug="vault", title="Vault", is_archived=True, is_private=True)
    response = admin_client.get(ROOMS, query)
    assert [r.slug for r in response.context["cl"].result_list] == ["lobby"]


def test_unreachable_presence_leaves_the_online_column_blank(
    admin_client: Any, live: FakeRooms, lobby: Room, caplog: pytest.LogCaptureFixture
) -> None:
    live.error = ConnectionError("redis is down")
    response = admin_client.get(ROOMS)
    assert response.status_code == 200
    assert cell("online_count", "-") in response.content.decode()
    assert "Could not read presence for room 'lobby'." in caplog.text


def test_changelist_loads_without_a_channel_layer(
    admin_client: Any, no_channel_layer: None, lobby: Room
) -> None:
    response = admin_client.get(ROOMS)
    assert cell("online_count", "-") in response.content.decode()


def test_change_form_lists_who_is_online(admin_client: Any, live: FakeRooms, lobby: Room) -> None:
    live.present["lobby"] = ["alice", "bob"]
    response = admin_client.get(reverse("admin:wsapp_room_change", args=[lobby.pk]))
    assert response.status_code == 200
    assert response.context["online_users"] == ["alice", "bob"]
    assert "2: alice, bob" in response.content.decode()


def test_slug_is_fixed_once_the_room_exists(
    admin_client: Any, live: FakeRooms, lobby: Room
) -> None:
    change = admin_client.get(reverse("admin:wsapp_room_change", args=[lobby.pk]))
    add = admin_client.get(reverse("admin:wsapp_room_add"))
    assert "slug" not in change.context["adminform"].form.fields
    assert "slug" in add.context["adminform"].form.fields
    assert add.context["adminform"].prepopulated_fields[0]["field"].name == "slug"


def test_adding_a_room_records_who_created_it(admin_client: Any, admin_user: Any) -> None:
    response = admin_client.post(
        reverse("admin:wsapp_room_add"),
        {
            "slug": "lobby",
            "title": "Lobby",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Room.objects.get().created_by == admin_user


def room_form(
    room: Room, memberships: list[dict[str, Any]] | None = None, **changes: Any
) -> dict[str, Any]:
    """The change form's POST data for ``room`` and its membership inline rows."""
    memberships = memberships or []
    data: dict[str, Any] = {
        "title": room.title,
        "description": room.description,
        "max_members": "",
        "created_by": "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(sum(1 for m in memberships if "id" in m)),
    }
    for flag in ["is_private", "is_archived"]:
        if changes.pop(flag, getattr(room, flag)):
            data[flag] = "on"
    data.update(changes)
    for n, row in enumerate(memberships):
        for key, value in {"room": room.pk, "role": "member", **row}.items():
            if value is not False:
                data[f"memberships-{n}-{key}"] = "on" if value is True else value
    return data


def post_room(client: Any, room: Room, **kwargs: Any) -> Any:
    return client.post(
        reverse("admin:wsapp_room_change", args=[room.pk]), room_form(room, **kwargs)
    )


def test_archiving_in_the_form_closes_live_members(
    admin: Any, live: FakeRooms, lobby: Room
) -> None:
    assert post_room(admin, lobby, is_archived=True).status_code == 302
    assert Room.objects.get().is_archived
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "This room has been archived.")]


def test_editing_other_fields_makes_no_live_call(admin: Any, live: FakeRooms, lobby: Room) -> None:
    assert post_room(admin, lobby, title="Main lobby").status_code == 302
    assert live.calls == []


def test_making_a_room_private_kicks_online_non_members(
    admin: Any, live: FakeRooms, lobby: Room, user: Any, bob: Any
) -> None:
    Membership.objects.create(room=lobby, user=bob)
    live.present["lobby"] = ["alice", "bob"]
    assert post_room(admin, lobby, is_private=True).status_code == 302
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "This room is now private.")
    ]


def test_banning_in_the_inline_kicks_the_user(
    admin: Any, live: FakeRooms, lobby: Room, user: Any, bob: Any
) -> None:
    alice_m = Membership.objects.create(room=lobby, user=user)
    bob_m = Membership.objects.create(room=lobby, user=bob)
    rows = [
        {"id": alice_m.pk, "user": user.pk, "is_banned": True},
        {"id": bob_m.pk, "user": bob.pk},
    ]
    assert post_room(admin, lobby, memberships=rows).status_code == 302
    assert Membership.objects.get(user=user).is_banned
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")
    ]


def test_adding_a_ban_in_the_inline_kicks_the_user(
    admin: Any, live: FakeRooms, lobby: Room, user: Any
) -> None:
    rows = [{"user": user.pk, "is_banned": True}]
    assert post_room(admin, lobby, memberships=rows).status_code == 302
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")
    ]


def test_removing_a_member_of_a_private_room_in_the_inline_kicks_them(
    admin: Any, live: FakeRooms, user: Any
) -> None:
    vault = Room.objects.create(slug="vault", title="Vault", is_private=True)
    membership = Membership.objects.create(room=vault, user=user)
    rows = [{"id": membership.pk, "user": user.pk, "DELETE": True}]
    assert post_room(admin, vault, memberships=rows).status_code == 302
    assert not Membership.objects.exists()
    assert live.calls == [
        ("kick", "vault", "alice", CloseCode.FORBIDDEN, "You are no longer a member of this room.")
    ]


def test_deleting_a_room_closes_its_live_members(admin: Any, live: FakeRooms, lobby: Room) -> None:
    response = admin.post(reverse("admin:wsapp_room_delete", args=[lobby.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Room.objects.exists()
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "This room has been deleted.")]


# Rooms: actions -------------------------------------------------------------------------------


def test_announce_shows_an_intermediate_page(
    admin_client: Any, live: FakeRooms, lobby: Room
) -> None:
    live.present["lobby"] = ["alice"]
    response = run_action(admin_client, ROOMS, "announce", [lobby])
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "admin/wsapp/room/action_form.html"
    html = response.content.decode()
    assert '<textarea name="body"' in html
    assert f'<input type="hidden" name="{ACTION_CHECKBOX_NAME}" value="{lobby.pk}">' in html
    assert '<input type="hidden" name="action" value="announce">' in html
    assert response.context["rows"] == [(lobby, ["alice"])]
    assert not Message.objects.exists()


def test_announce_stores_a_system_message_and_broadcasts_it(
    admin: Any, live: FakeRooms, lobby: Room
) -> None:
    response = run_action(
        admin, ROOMS, "announce", [lobby], body="Maintenance at 5", apply="Announce"
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert (message.room, message.user, message.body, message.client_id) == (
        lobby,
        None,
        "Maintenance at 5",
        "",
    )
    assert live.calls == [("broadcast", "lobby", message.to_wire())]
    assert notices(response) == [("success", "Announced to 1 room.")]
    assert LogEntry.objects.get().change_message == "Announced: Maintenance at 5"


def test_announce_with_an_empty_body_shows_the_form_again(
    admin_client: Any, live: FakeRooms, lobby: Room
) -> None:
    response = run_action(admin_client, ROOMS, "announce", [lobby], body="  ", apply="Announce")
    assert response.status_code == 200
    assert response.context["form"].errors == {"body": ["This field is required."]}
    assert not Message.objects.exists()


def test_announce_skips_archived_rooms(admin: Any, live: FakeRooms, lobby: Room) -> None:
    old = Room.objects.create(slug="old", title="Old", is_archived=True)
    response = run_action(admin, ROOMS, "announce", [lobby, old], body="hi", apply="Go")
    assert [m.room.slug for m in Message.objects.all()] == ["lobby"]
    assert [c[1] for c in live.calls] == ["lobby"]
    assert notices(response) == [
        ("success", "Announced to 1 room."),
        ("warning", "Skipped 1 archived room."),
    ]


def test_archive_and_disconnect_asks_for_a_reason(
    admin_client: Any, live: FakeRooms, lobby: Room
) -> None:
    response = run_action(admin_client, ROOMS, "archive_and_disconnect", [lobby])
    assert response.status_code == 200
    assert response.context["form"]["reason"].value() == "This room has been archived."
    assert not Room.objects.get().is_archived


def test_archive_and_disconnect_archives_then_closes_with_4410(
    admin: Any, live: FakeRooms, lobby: Room
) -> None:
    other = Room.objects.create(slug="other", title="Other")
    response = run_action(
        admin,
        ROOMS,
        "archive_and_disconnect",
        [lobby, other],
        reason="Moved to #general",
        apply="Go",
    )
    assert response.status_code == 302
    assert list(Room.objects.values_list("slug", "is_archived")) == [
        ("lobby", True),
        ("other", True),
    ]
    assert live.calls == [
        ("close", "lobby", CloseCode.ROOM_CLOSED, "Moved to #general"),
        ("close", "other", CloseCode.ROOM_CLOSED, "Moved to #general"),
    ]
    assert notices(response) == [("success", "Archived 2 rooms.")]


def test_archive_reason_must_fit_in_a_close_frame(
    admin_client: Any, live: FakeRooms, lobby: Room
) -> None:
    # 62 two-byte characters: 124 bytes, one over RFC 6455's 123 for a close reason.
    response = run_action(
        admin_client, ROOMS, "archive_and_disconnect", [lobby], reason="é" * 62, apply="Go"
    )
    assert response.context["form"].errors == {"reason": ["At most 123 bytes in UTF-8."]}
    assert not Room.objects.get().is_archived


def test_unarchive(admin: Any, live: FakeRooms) -> None:
    old = Room.objects.create(slug="old", title="Old", is_archived=True)
    response = run_action(admin, ROOMS, "unarchive", [old])
    assert not Room.objects.get().is_archived
    assert notices(response) == [("success", "Unarchived 1 room.")]
    assert live.calls == []


def test_a_failed_live_update_keeps_the_change_and_warns(
    admin: Any, live: FakeRooms, lobby: Room, caplog: pytest.LogCaptureFixture
) -> None:
    live.error = ConnectionError("redis is down")
    response = run_action(admin, ROOMS, "archive_and_disconnect", [lobby], reason="x", apply="Go")
    assert Room.objects.get().is_archived
    assert (
        "warning",
        "Saved, but open connections were not updated (see the server log).",
    ) in notices(response)
    assert "Live update from the admin failed" in caplog.text


def test_actions_without_a_channel_layer_save_and_warn(
    admin: Any, no_channel_layer: None, lobby: Room
) -> None:
    response = run_action(admin, ROOMS, "archive_and_disconnect", [lobby], reason="x", apply="Go")
    assert Room.objects.get().is_archived
    assert (
        "warning",
        "Saved, but open connections were not updated (see the server log).",
    ) in notices(response)


def test_nothing_goes_live_before_commit(
    admin_client: Any, live: FakeRooms, lobby: Room, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_action(admin_client, ROOMS, "archive_and_disconnect", [lobby], reason="x", apply="Go")
    assert (len(callbacks), live.calls) == (1, [])


# Memberships ----------------------------------------------------------------------------------


def test_membership_changelist_search_and_filter(
    admin_client: Any, live: FakeRooms, lobby: Room, user: Any, bob: Any
) -> None:
    Membership.objects.create(room=lobby, user=user)
    Membership.objects.create(room=lobby, user=bob, is_banned=True)
    searched = admin_client.get(MEMBERSHIPS, {"q": "bob"})
    filtered = admin_client.get(MEMBERSHIPS, {"is_banned__exact": "0"})
    assert [m.user.username for m in searched.context["cl"].result_list] == ["bob"]
    assert [m.user.username for m in filtered.context["cl"].result_list] == ["alice"]


def test_ban_action_bans_and_kicks_with_4403(
    admin: Any, live: FakeRooms, lobby: Room, user: Any
) -> None:
    membership = Membership.objects.create(room=lobby, user=user)
    response = run_action(admin, MEMBERSHIPS, "ban", [membership])
    assert response.status_code == 302
    assert Membership.objects.get().is_banned
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")
    ]
    assert notices(response) == [("success", "Banned 1 user.")]


def test_unban_action(admin: Any, live: FakeRooms, lobby: Room, user: Any) -> None:
    membership = Membership.objects.create(room=lobby, user=user, is_banned=True)
    run_action(admin, MEMBERSHIPS, "unban", [membership])
    assert not Membership.objects.get().is_banned
    assert live.calls == []


@pytest.mark.parametrize("was_banned", [False, True], ids=["newly-banned", "already-banned"])
def test_banning_in_the_membership_form_kicks_once(
    admin: Any, live: FakeRooms, lobby: Room, user: Any, was_banned: bool
) -> None:
    membership = Membership.objects.create(room=lobby, user=user, is_banned=was_banned)
    response = admin.post(
        reverse("admin:wsapp_membership_change", args=[membership.pk]),
        {"room": lobby.pk, "user": user.pk, "role": "member", "is_banned": "on"},
    )
    assert response.status_code == 302
    expected = [("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")]
    assert live.calls == ([] if was_banned else expected)


@pytest.mark.parametrize(
    ("private", "kicked"), [(True, True), (False, False)], ids=["private", "public"]
)
def test_deleting_a_membership_kicks_only_from_private_rooms(
    admin: Any, live: FakeRooms, user: Any, private: bool, kicked: bool
) -> None:
    room = Room.objects.create(slug="room", title="Room", is_private=private)
    membership = Membership.objects.create(room=room, user=user)
    url = reverse("admin:wsapp_membership_delete", args=[membership.pk])
    assert admin.post(url, {"post": "yes"}).status_code == 302
    expected = [
        ("kick", "room", "alice", CloseCode.FORBIDDEN, "You are no longer a member of this room.")
    ]
    assert live.calls == (expected if kicked else [])


# Messages -------------------------------------------------------------------------------------


@pytest.fixture
def chatter(lobby: Room, user: Any) -> list[Message]:
    other = Room.objects.create(slug="other", title="Other")
    return [
        Message.objects.create(room=lobby, user=user, body="hello there", client_id="c-1"),
        Message.objects.create(room=lobby, user=None, body="maintenance at 5"),
        Message.objects.create(room=other, user=user, body="elsewhere"),
    ]


@pytest.mark.parametrize(
    ("query", "bodies"),
    [
        ({}, ["elsewhere", "maintenance at 5", "hello there"]),
        ({"q": "maint"}, ["maintenance at 5"]),
        ({"q": "alice"}, ["elsewhere", "hello there"]),
        ({"q": "other"}, ["elsewhere"]),
        ({"q": "c-1"}, ["hello there"]),
        ({"room__id__exact": "lobby"}, ["maintenance at 5", "hello there"]),
        ({"created_at__year": "1999"}, []),
    ],
    ids=[
        "newest-first",
        "search-body",
        "search-user",
        "search-room",
        "search-client-id",
        "filter-room",
        "date",
    ],
)
def test_message_changelist(
    admin_client: Any, chatter: list[Message], query: dict[str, str], bodies: list[str]
) -> None:
    if "room__id__exact" in query:  # the filter takes the room's id, known only now
        query = {"room__id__exact": str(Room.objects.get(slug=query["room__id__exact"]).pk)}
    response = admin_client.get(MESSAGES, query)
    assert response.status_code == 200
    assert [m.body for m in response.context["cl"].result_list] == bodies


def test_message_changelist_names_system_messages(
    admin_client: Any, chatter: list[Message]
) -> None:
    html = admin_client.get(MESSAGES).content.decode()
    assert cell("author", "(system)") in html
    assert cell("author", "alice") in html


def test_message_changelist_shows_the_date_hierarchy(
    admin_client: Any, chatter: list[Message]
) -> None:
    year = chatter[0].created_at.year
    response = admin_client.get(MESSAGES, {"created_at__year": str(year)})
    assert len(response.context["cl"].result_list) == 3
    assert 'class="date-back"' in response.content.decode()


def test_message_change_form_loads(admin_client: Any, chatter: list[Message]) -> None:
    response = admin_client.get(reverse("admin:wsapp_message_change", args=[chatter[0].pk]))
    assert response.status_code == 200


# Live, against the real rooms API and sockets on the in-process stack ----------------------------


@pytest.mark.django_db(transaction=True)
async def test_archive_closes_a_live_socket_with_4410(
    admin_client: Any, lobby: Room, user: Any, communicator: Any
) -> None:
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    assert (await ws.receive_json())["type"] == "history"
    assert (await ws.receive_json())["type"] == "presence.state"
    post = sync_to_async(run_action)
    await post(
        admin_client, ROOMS, "archive_and_disconnect", [lobby], reason="Closed for good", apply="Go"
    )
    assert await ws.receive_json() == {"type": "room.closed", "reason": "Closed for good"}
    assert await ws.wait_closed(timeout=scaled(2)) == (CloseCode.ROOM_CLOSED, "Closed for good")


@pytest.mark.django_db(transaction=True)
async def test_ban_closes_a_live_socket_with_4403(
    admin_client: Any, lobby: Room, user: Any, communicator: Any
) -> None:
    membership = await Membership.objects.acreate(room=lobby, user=user)
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    await ws.receive_json(), await ws.receive_json()
    await sync_to_async(run_action)(admin_client, MEMBERSHIPS, "ban", [membership])
    assert await ws.wait_closed(timeout=scaled(2)) == (
        CloseCode.FORBIDDEN,
        "You are banned from this room.",
    )


@pytest.mark.django_db(transaction=True)
async def test_announce_reaches_a_live_socket_as_a_system_message(
    admin_client: Any, lobby: Room, user: Any, communicator: Any
) -> None:
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    await ws.receive_json(), await ws.receive_json()
    online = await sync_to_async(admin_client.get)(ROOMS)
    assert cell("online_count", 1) in online.content.decode()
    await sync_to_async(run_action)(
        admin_client, ROOMS, "announce", [lobby], body="Hello all", apply="Go"
    )
    stored = await Message.objects.for_wire().aget()
    assert await ws.receive_json() == stored.to_wire()
    assert (stored.user_id, stored.body) == (None, "Hello all")
