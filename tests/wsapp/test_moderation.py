"""Moderation: each change is saved, then pushed to the live sockets only once it commits."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from tests.wsapp.helpers import FakeRooms
from wsapp.codes import CloseCode
from wsapp.models import Membership, Message, Room
from wsapp.rooms import moderation

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> FakeRooms:
    return FakeRooms.install(monkeypatch)


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """Run the on_commit callbacks as a real commit would (the test transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def lobby() -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


@pytest.fixture
def vault() -> Room:
    return Room.objects.create(slug="vault", title="Vault", is_private=True)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="bob-password")


class Boom(Exception):
    pass


def test_archive_saves_then_closes_each_room_with_4410(
    live: FakeRooms, committed: Any, lobby: Room
):
    with committed() as callbacks:
        assert moderation.archive([lobby], "Moved") == [lobby]
        assert Room.objects.get().is_archived and live.calls == []  # saved, not yet pushed
    assert len(callbacks) == 1
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "Moved")]


def test_archive_defaults_to_the_archived_reason(live: FakeRooms, committed: Any, lobby: Room):
    with committed():
        moderation.archive(Room.objects.all())
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "This room has been archived.")]


def test_nothing_is_pushed_when_the_transaction_rolls_back(
    live: FakeRooms, committed: Any, lobby: Room, user: Any
) -> None:
    membership = Membership.objects.create(room=lobby, user=user)
    with committed() as callbacks, pytest.raises(Boom), transaction.atomic():
        moderation.archive([lobby])
        moderation.ban([membership])
        moderation.announce([lobby], "hi")
        raise Boom
    assert (callbacks, live.calls) == ([], [])
    assert not Room.objects.get().is_archived
    assert not Membership.objects.get().is_banned
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_rollback_pushes_nothing_and_a_real_commit_pushes_once(
    live: FakeRooms, lobby: Room
) -> None:
    with pytest.raises(Boom), transaction.atomic():
        moderation.archive([lobby])
        raise Boom
    assert live.calls == []
    with transaction.atomic():
        moderation.archive([lobby])
        assert live.calls == []
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "This room has been archived.")]


def test_delete_removes_the_rooms_then_closes_them(live: FakeRooms, committed: Any, lobby: Room):
    with committed():
        assert moderation.delete(Room.objects.all()) == ["lobby"]
    assert not Room.objects.exists()
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "This room has been deleted.")]


def test_ban_saves_then_kicks_the_user_from_that_room(
    live: FakeRooms, committed: Any, lobby: Room, user: Any, bob: Any
) -> None:
    alice_m = Membership.objects.create(room=lobby, user=user)
    Membership.objects.create(room=lobby, user=bob)
    with committed():
        moderation.ban([alice_m])
    assert list(Membership.objects.filter(is_banned=True).values_list("user", flat=True)) == [
        user.pk
    ]
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")
    ]


def test_remove_kicks_only_those_who_lose_access(
    live: FakeRooms, committed: Any, lobby: Room, vault: Room, user: Any, bob: Any
) -> None:
    public = Membership.objects.create(room=lobby, user=user)
    private = Membership.objects.create(room=vault, user=user)
    banned = Membership.objects.create(room=vault, user=bob, is_banned=True)
    with committed():
        assert moderation.remove([public, private, banned]) == [private]
    assert not Membership.objects.exists()
    assert live.calls == [
        ("kick", "vault", "alice", CloseCode.FORBIDDEN, "You are no longer a member of this room.")
    ]


def test_remove_of_a_membership_already_deleted_only_pushes(
    live: FakeRooms, committed: Any, vault: Room, user: Any
) -> None:
    membership = Membership.objects.create(room=vault, user=user)
    membership.delete()
    with committed():
        moderation.remove([membership])
    assert live.calls == [
        ("kick", "vault", "alice", CloseCode.FORBIDDEN, "You are no longer a member of this room.")
    ]


def test_make_private_kicks_the_online_users_who_are_not_members(
    live: FakeRooms, committed: Any, lobby: Room, user: Any, bob: Any
) -> None:
    Membership.objects.create(room=lobby, user=bob)
    live.present["lobby"] = ["alice", "bob"]
    with committed():
        moderation.make_private(lobby)
    assert Room.objects.get().is_private
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "This room is now private.")
    ]


def test_announce_stores_system_messages_and_skips_archived_rooms(
    live: FakeRooms, committed: Any, lobby: Room
) -> None:
    attic = Room.objects.create(slug="attic", title="Attic", is_archived=True)
    with committed():
        sent = moderation.announce([lobby, attic], "Deploy at 5")
    stored = Message.objects.for_wire().get()
    assert [m.pk for m in sent] == [stored.pk]
    assert (stored.room, stored.user, stored.body) == (lobby, None, "Deploy at 5")
    assert live.calls == [("broadcast", "lobby", stored.to_wire())]


def test_a_failed_push_goes_to_on_error_and_the_change_stands(
    live: FakeRooms, committed: Any, lobby: Room
) -> None:
    live.error = ConnectionError("redis is down")
    failures: list[Exception] = []
    with committed():
        moderation.archive([lobby], on_error=failures.append)
    assert failures == [live.error]
    assert Room.objects.get().is_archived


def test_a_failed_push_without_on_error_is_logged(
    live: FakeRooms, committed: Any, lobby: Room, caplog: pytest.LogCaptureFixture
) -> None:
    live.error = ConnectionError("redis is down")
    with committed():
        moderation.archive([lobby])
    assert "Live update of rooms failed; the database change stands." in caplog.text
    assert Room.objects.get().is_archived


# manage.py rooms: the same functions from a shell ---------------------------------------------


def test_the_command_archives(live: FakeRooms, committed: Any, lobby: Room) -> None:
    with committed():
        call_command("rooms", "archive", "lobby", "--reason", "Gone")
    assert Room.objects.get().is_archived
    assert live.calls == [("close", "lobby", CloseCode.ROOM_CLOSED, "Gone")]


def test_the_command_bans_a_member(live: FakeRooms, committed: Any, lobby: Room, user: Any) -> None:
    Membership.objects.create(room=lobby, user=user)
    with committed():
        call_command("rooms", "ban", "lobby", "alice")
    assert Membership.objects.get().is_banned
    assert live.calls == [
        ("kick", "lobby", "alice", CloseCode.FORBIDDEN, "You are banned from this room.")
    ]


def test_the_command_announces(live: FakeRooms, committed: Any, lobby: Room) -> None:
    with committed():
        call_command("rooms", "announce", "lobby", "Hello")
    assert live.calls == [("broadcast", "lobby", Message.objects.for_wire().get().to_wire())]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["archive", "nowhere"], "No room 'nowhere'."),
        (["ban", "lobby", "alice"], "'alice' is not a member of 'lobby'."),
        (["remove", "lobby", "nobody"], "No user 'nobody'."),
    ],
    ids=["no-room", "not-a-member", "no-user"],
)
def test_the_command_names_what_is_missing(live: FakeRooms, lobby: Room, user: Any, args, error):
    with pytest.raises(CommandError, match=error):
        call_command("rooms", *args)
    assert live.calls == []


def test_the_command_refuses_to_announce_to_an_archived_room(live: FakeRooms) -> None:
    Room.objects.create(slug="attic", title="Attic", is_archived=True)
    with pytest.raises(CommandError, match="Room 'attic' is archived: nothing announced."):
        call_command("rooms", "announce", "attic", "Hello")
