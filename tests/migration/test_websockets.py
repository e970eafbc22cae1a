"""The ``websockets`` library's examples, ported (:mod:`tests.migration.websockets_ports`),
in-process and under ``manage.py serve``."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from tests.migration.conftest import Connect, Refused, read_stats
from tests.support.timing import wait_until
from wsapp.codes import CloseCode

CHALLENGE = 'Basic realm="my dev server", charset="UTF-8"'


async def test_hello_greets_then_closes(connect: Connect) -> None:
    peer = await connect("/websockets/hello/")
    await peer.send("Ada")
    assert await peer.recv() == "Hello Ada!"
    assert await peer.closed() == (CloseCode.NORMAL_CLOSURE, "")


@pytest.mark.parametrize("frame", ["Hello world!", b"\x00bytes"], ids=["text", "bytes"])
async def test_echo(connect: Connect, frame: str | bytes) -> None:
    peer = await connect("/websockets/echo/")
    await peer.send(frame)
    assert await peer.recv() == frame


async def test_counter_broadcasts_users_and_value(connect: Connect) -> None:
    ann = await connect("/websockets/counter/")
    assert (await ann.recv_json())["type"] == "users"
    start = (await ann.recv_json())["value"]
    bob = await connect("/websockets/counter/")
    assert await ann.recv_json() == {"type": "users", "count": 2}
    assert await bob.recv_json() == {"type": "users", "count": 2}
    assert await bob.recv_json() == {"type": "value", "value": start}
    await ann.send_json({"action": "plus"})
    assert await ann.recv_json() == await bob.recv_json() == {"type": "value", "value": start + 1}
    await bob.send_json({"action": "minus"})
    assert await ann.recv_json() == await bob.recv_json() == {"type": "value", "value": start}
    await bob.close()
    assert await ann.recv_json() == {"type": "users", "count": 1}


async def test_show_time_ends_when_the_client_leaves(connect: Connect) -> None:
    """A send-only loop: the client's close must end it, and its ``finally`` must run."""
    key = "websockets.show_time.ended"
    before = (await read_stats(connect)).get(key, 0)
    peer = await connect("/websockets/show-time/")
    first, second = await peer.recv(), await peer.recv()
    assert isinstance(first, str) and isinstance(second, str)
    assert datetime.fromisoformat(first) <= datetime.fromisoformat(second)
    await peer.close()

    async def ended() -> bool:
        return (await read_stats(connect)).get(key, 0) == before + 1

    await wait_until(ended, 10, "show_time's finally")


async def test_first_message_authentication(connect: Connect) -> None:
    peer = await connect("/websockets/first-message/")
    await peer.send("alice-project-token")
    assert await peer.recv() == "Hello alice!"


async def test_first_message_authentication_failure_closes_4401(connect: Connect) -> None:
    peer = await connect("/websockets/first-message/")
    await peer.send("wrong")
    assert await peer.closed() == (CloseCode.NOT_AUTHENTICATED, "authentication failed")


@pytest.mark.django_db(transaction=True)  # wsapp's TokenAuth may look a token up
async def test_query_param_authentication(connect: Connect) -> None:
    peer = await connect("/websockets/query-param/?token=alice-project-token")
    assert await peer.recv() == "Hello alice!"


@pytest.mark.django_db(transaction=True)  # wsapp's TokenAuth may look a token up
@pytest.mark.parametrize(
    ("query", "body"),
    [("", b"Missing token\n"), ("?token=wrong", b"Invalid token\n")],
    ids=["missing", "invalid"],
)
async def test_query_param_authentication_failure_is_a_401(
    connect: Connect, query: str, body: bytes
) -> None:
    with pytest.raises(Refused) as refused:
        await connect(f"/websockets/query-param/{query}")
    assert (refused.value.status, refused.value.body) == (401, body)


def basic(credentials: str) -> dict[str, str]:
    return {"authorization": f"Basic {base64.b64encode(credentials.encode()).decode()}"}


async def test_basic_auth_success_sets_the_username(connect: Connect) -> None:
    peer = await connect("/websockets/basic-auth/", headers=basic("hello:iloveyou"))
    assert await peer.recv() == "Hello hello!"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b"Missing credentials\n"),
        ({"authorization": "Digest abc"}, b"Unsupported credentials\n"),
        (basic("hello:wrong"), b"Invalid credentials\n"),
    ],
    ids=["missing", "unsupported", "invalid"],
)
async def test_basic_auth_failure_is_a_401_with_a_challenge(
    connect: Connect, headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(Refused) as refused:
        await connect("/websockets/basic-auth/", headers=headers)
    assert (refused.value.status, refused.value.body) == (401, body)
    assert refused.value.headers["www-authenticate"] == CHALLENGE


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["inprocess"])  # its users live in the test database
async def test_message_user_reaches_every_socket_of_that_user_only(
    connect: Connect, django_user_model: Any
) -> None:
    """faq/server.rst's ``message_user(user_id, message)`` is ``rooms.asend_to_user``."""
    from wsapp import rooms

    alice = await django_user_model.objects.acreate(username="alice")
    bob = await django_user_model.objects.acreate(username="bob")
    tabs = [await connect("/websockets/notifications/", user=alice) for _ in range(2)]
    other = await connect("/websockets/notifications/", user=bob)
    await rooms.asend_to_user(alice, {"type": "note", "text": "hi"})
    assert [await tab.recv_json() for tab in tabs] == [{"type": "note", "text": "hi"}] * 2
    await rooms.asend_to_user(bob.pk, {"type": "note", "text": "bob only"})
    assert await other.recv_json() == {"type": "note", "text": "bob only"}
    assert [await tab.session.receive_nothing() for tab in tabs] == [True, True]  # type: ignore[attr-defined]
