"""Room, Membership and Message: the constraints history relies on, the wire shape, the helpers."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from wsapp.models import Membership, Message, Room, wire_timestamp

pytestmark = pytest.mark.django_db


@pytest.fixture
def room() -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="bob-password")


# Room -------------------------------------------------------------------------------------------


def test_room_slug_is_unique(room: Room) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(slug="lobby", title="Another lobby")


def test_room_str_is_its_slug(room: Room) -> None:
    assert str(room) == "lobby"


def test_rooms_are_ordered_by_slug() -> None:
    for slug in ["c", "a", "b"]:
        Room.objects.create(slug=slug, title=slug)
    assert [r.slug for r in Room.objects.all()] == ["a", "b", "c"]


def test_active_leaves_out_archived_rooms(room: Room) -> None:
    Room.objects.create(slug="old", title="Old", is_archived=True)
    assert list(Room.objects.active()) == [room]


def test_member_count_leaves_out_bans(room: Room, user: Any, bob: Any) -> None:
    Membership.objects.create(room=room, user=user)
    Membership.objects.create(room=room, user=bob, is_banned=True)
    assert Room.objects.with_member_count().get().member_count == 1


@pytest.mark.parametrize(
    ("membership", "is_member", "is_banned"),
    [
        pytest.param(None, False, False, id="no-membership"),
        pytest.param({"is_banned": False}, True, False, id="member"),
        pytest.param({"is_banned": False, "role": "moderator"}, True, False, id="moderator"),
        pytest.param({"is_banned": True}, False, True, id="banned"),
    ],
)
def test_is_member_and_is_banned(
    room: Room, user: Any, membership: dict[str, Any] | None, is_member: bool, is_banned: bool
) -> None:
    if membership is not None:
        Membership.objects.create(room=room, user=user, **membership)
    assert (room.is_member(user), room.is_banned(user)) == (is_member, is_banned)


def test_membership_in_another_room_does_not_count(room: Room, user: Any) -> None:
    other = Room.objects.create(slug="other", title="Other")
    Membership.objects.create(room=other, user=user, is_banned=True)
    assert (room.is_member(user), room.is_banned(user)) == (False, False)


@pytest.mark.parametrize("anonymous", [None, AnonymousUser()], ids=["none", "anonymous-user"])
def test_anonymous_users_are_neither_members_nor_banned(
    room: Room, anonymous: AnonymousUser | None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        assert (room.is_member(anonymous), room.is_banned(anonymous)) == (False, False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("banned", "expected"),
    [(False, (True, False)), (True, (False, True))],
    ids=["member", "banned"],
)
async def test_async_twins_agree(
    django_user_model: Any, banned: bool, expected: tuple[bool, bool]
) -> None:
    user = await django_user_model.objects.acreate(username="carol")
    room = await Room.objects.acreate(slug="lobby", title="Lobby")
    await Membership.objects.acreate(room=room, user=user, is_banned=banned)
    assert (await room.ais_member(user), await room.ais_banned(user)) == expected
    assert (await room.ais_member(None), await room.ais_banned(AnonymousUser())) == (False, False)


# Membership -------------------------------------------------------------------------------------


def test_membership_is_unique_per_room_and_user(room: Room, user: Any) -> None:
    Membership.objects.create(room=room, user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(room=room, user=user, role=Membership.Role.MODERATOR)


def test_membership_defaults_and_str(room: Room, user: Any) -> None:
    membership = Membership.objects.create(room=room, user=user)
    assert (membership.role, membership.is_banned) == (Membership.Role.MEMBER, False)
    assert membership.joined_at is not None
    assert str(membership) == "alice in lobby"


# Message ----------------------------------------------------------------------------------------


def test_a_retry_with_the_same_client_id_is_refused(room: Room, user: Any) -> None:
    Message.objects.create(room=room, user=user, body="hi", client_id="c-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, user=user, body="hi", client_id="c-1")
    assert Message.objects.count() == 1


def test_full_clean_reports_the_duplicate_client_id(room: Room, user: Any) -> None:
    # The admin's forms validate constraints this way, before the database refuses the row.
    Message.objects.create(room=room, user=user, body="hi", client_id="c-1")
    with pytest.raises(ValidationError):
        Message(room=room, user=user, body="hi", client_id="c-1").full_clean()


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"client_id": "c-2"}, id="other-client-id"),
        pytest.param({"user": "bob"}, id="other-user"),
        pytest.param({"room": "other"}, id="other-room"),
    ],
)
def test_the_same_client_id_elsewhere_is_a_new_message(
    room: Room, user: Any, bob: Any, second: dict[str, str]
) -> None:
    Message.objects.create(room=room, user=user, body="hi", client_id="c-1")
    fields: dict[str, Any] = {"room": room, "user": user, "client_id": "c-1"}
    if "client_id" in second:
        fields["client_id"] = second["client_id"]
    if "user" in second:
        fields["user"] = bob
    if "room" in second:
        fields["room"] = Room.objects.create(slug="other", title="Other")
    Message.objects.create(body="hi", **fields)
    assert Message.objects.count() == 2


def test_messages_without_a_client_id_never_collide(room: Room, user: Any) -> None:
    Message.objects.create(room=room, user=user, body="one")
    Message.objects.create(room=room, user=user, body="two")
    assert Message.objects.filter(client_id="").count() == 2


@pytest.mark.parametrize("client_id", ["", "announcement"], ids=["empty", "same-non-empty"])
def test_system_messages_never_collide(room: Room, client_id: str) -> None:
    Message.objects.create(room=room, user=None, body="maintenance at 5", client_id=client_id)
    Message.objects.create(room=room, user=None, body="maintenance now", client_id=client_id)
    assert Message.objects.filter(user=None).count() == 2


def test_ids_only_grow_even_after_a_delete(room: Room) -> None:
    first = Message.objects.create(room=room, body="one")
    last = Message.objects.create(room=room, body="two")
    last_id = last.pk
    last.delete()
    again = Message.objects.create(room=room, body="three")
    assert first.pk < last_id < again.pk
    assert [m.body for m in Message.objects.all()] == ["one", "three"]


def test_history_index_covers_room_then_id() -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Message._meta.db_table)
    assert constraints["wsapp_message_room_id"]["columns"] == ["room_id", "id"]
    assert constraints["wsapp_message_room_id"]["index"] is True


def test_to_wire_is_the_chat_message_frame(room: Room, user: Any) -> None:
    created = datetime.datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=datetime.UTC)
    message = Message.objects.create(
        room=room, user=user, body="hi", client_id="c-1", created_at=created
    )
    assert message.to_wire() == {
        "type": "chat.message",
        "id": message.pk,
        "room": "lobby",
        "user": "alice",
        "body": "hi",
        "client_id": "c-1",
        "ts": "2024-05-01T12:30:45.123Z",
    }


def test_to_wire_of_a_system_message_has_no_user(room: Room) -> None:
    message = Message.objects.create(room=room, user=None, body="maintenance at 5")
    wire = message.to_wire()
    assert (wire["user"], wire["client_id"]) == (None, "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            datetime.datetime(
                2024, 5, 1, 14, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
            ),
            "2024-05-01T12:00:00.000Z",
            id="converted-to-utc",
        ),
        pytest.param(
            datetime.datetime(2024, 5, 1, 12, 0, 0, 999999, tzinfo=datetime.UTC),
            "2024-05-01T12:00:00.999Z",
            id="milliseconds-truncated",
        ),
    ],
)
def test_wire_timestamp(value: datetime.datetime, expected: str) -> None:
    assert wire_timestamp(value) == expected


def test_for_wire_loads_a_page_of_history_in_one_query(
    room: Room, user: Any, django_assert_num_queries: Any
) -> None:
    for n in range(3):
        Message.objects.create(room=room, user=user if n % 2 else None, body=str(n))
    with django_assert_num_queries(1):
        frames = [m.to_wire() for m in Message.objects.for_wire().filter(room=room)]
    assert [(f["body"], f["user"]) for f in frames] == [("0", None), ("1", "alice"), ("2", None)]


def test_message_str_names_author_and_room(room: Room, user: Any) -> None:
    said = Message.objects.create(room=room, user=user, body="x" * 50)
    system = Message.objects.create(room=room, body="hello")
    assert str(said) == f"#{said.pk} alice in lobby: {'x' * 39}…"
    assert str(system) == f"#{system.pk} system in lobby: hello"


def test_deleting_a_user_keeps_their_messages(room: Room, user: Any) -> None:
    message = Message.objects.create(room=room, user=user, body="hi", client_id="c-1")
    user.delete()
    message.refresh_from_db()
    assert message.user is None
