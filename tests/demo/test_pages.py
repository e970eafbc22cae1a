"""The demo's HTML pages over Django's test client: who sees which room, what the chat page
hands its script, and that user text is escaped in what the server renders."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from wsapp.models import Membership, Message, Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms(django_user_model: Any) -> dict[str, Room]:
    admin = django_user_model.objects.create_user("admin", is_staff=True)
    staff = Room.objects.create(slug="staff", title="Staff", is_private=True)
    Membership.objects.create(room=staff, user=admin)
    return {
        "lobby": Room.objects.create(slug="lobby", title="Lobby", description="Say hello."),
        "staff": staff,
        "old": Room.objects.create(slug="old", title="Old", is_archived=True),
    }


def slugs(response: Any) -> list[str]:
    return [room.slug for room in response.context["rooms"]]


def test_home_lists_public_rooms_to_everyone(client: Client, rooms: dict[str, Room]) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert slugs(response) == ["lobby"]
    assert response.context["rooms"][0].online_count == 0


def test_home_lists_private_rooms_to_their_members(
    client: Client, rooms: dict[str, Room], django_user_model: Any
) -> None:
    client.force_login(django_user_model.objects.get(username="admin"))
    response = client.get("/")
    assert slugs(response) == ["lobby", "staff"]
    assert b'href="/dashboard/"' in response.content


def test_a_banned_user_does_not_see_the_room(
    client: Client, rooms: dict[str, Room], user: Any
) -> None:
    Membership.objects.create(room=rooms["lobby"], user=user, is_banned=True)
    client.force_login(user)
    assert slugs(client.get("/")) == []
    assert client.get("/rooms/lobby/").status_code == 404


def test_online_counts_as_json(client: Client, rooms: dict[str, Room]) -> None:
    response = client.get("/api/rooms/online/")
    assert response.json() == {"rooms": {"lobby": 0}}
    assert "no-cache" in response["Cache-Control"]


def test_the_chat_page_needs_a_login(client: Client, rooms: dict[str, Room]) -> None:
    response = client.get("/rooms/lobby/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/rooms/lobby/"


@pytest.mark.parametrize(
    ("slug", "status"), [("lobby", 200), ("staff", 404), ("nope", 404), ("old", 200)]
)
def test_rooms_a_user_may_not_enter_are_a_404(
    client: Client, rooms: dict[str, Room], user: Any, slug: str, status: int
) -> None:
    client.force_login(user)
    assert client.get(f"/rooms/{slug}/").status_code == status


def test_the_chat_page_renders_history_as_text_and_resumes_after_it(
    client: Client, rooms: dict[str, Room], user: Any
) -> None:
    first = Message.objects.create(
        room=rooms["lobby"], user=user, body="<img src=x onerror=alert(1)>"
    )
    client.force_login(user)
    response = client.get("/rooms/lobby/")
    content = response.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "<img" not in content
    assert f'data-last-id="{first.id}"' in content
    assert 'data-ws-path="/ws/topics/"' in content
    assert 'data-subprotocol="wsapp.v1"' in content


def test_the_login_page_lists_demo_users_only_under_debug(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    assert b"alice-demo" in client.get("/accounts/login/").content
    settings.DEBUG = False
    assert b"alice-demo" not in client.get("/accounts/login/").content


def test_logging_in_lands_on_the_rooms(client: Client, user: Any) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logging_out_is_a_post_that_lands_on_the_rooms(client: Client, user: Any) -> None:
    client.force_login(user)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/rooms/lobby/").status_code == 302
