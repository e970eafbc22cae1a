"""Revoked credentials close the user's open sockets at once (in-process, in-memory layer)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.signals import user_logged_out

from tests.support.timing import scaled
from wsapp.codes import CloseCode
from wsapp.models import Room


async def open_socket(communicator: Any, user: Any) -> Any:
    ws = await communicator("/ws/chat/lobby/", user=user, subprotocols=["wsapp.v1"])
    await ws.receive_json(), await ws.receive_json()  # history, presence.state
    return ws


@pytest.fixture
def lobby() -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


@pytest.mark.django_db(transaction=True)
async def test_a_logout_closes_the_users_sockets_with_4401(communicator, user, lobby) -> None:
    ws = await open_socket(communicator, user)
    await sync_to_async(user_logged_out.send)(sender=type(user), request=None, user=user)
    assert await ws.wait_closed(timeout=scaled(2)) == (CloseCode.NOT_AUTHENTICATED, "Logged out.")


@pytest.mark.django_db(transaction=True)
async def test_a_password_change_closes_them_once_it_commits(communicator, user, lobby) -> None:
    ws = await open_socket(communicator, user)

    def change() -> None:
        user.set_password("another-password")
        user.save()

    await sync_to_async(change)()
    assert await ws.wait_closed(timeout=scaled(2)) == (
        CloseCode.NOT_AUTHENTICATED,
        "Credentials changed.",
    )


@pytest.mark.django_db(transaction=True)
async def test_saving_other_fields_closes_nothing(communicator, user, lobby) -> None:
    ws = await open_socket(communicator, user)

    def rename() -> None:
        user.first_name = "Alice"
        user.save()

    await sync_to_async(rename)()
    assert await ws.receive_nothing()
