"""Quart's WebSocket examples, ported (:mod:`tests.migration.quart_ports`), in-process and
under ``manage.py serve``."""

from __future__ import annotations

import base64

import pytest

from tests.migration.conftest import Connect, Refused, read_stats
from tests.support.timing import wait_until
from wsapp.codes import CloseCode


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


async def test_echo_sends_back_str_and_bytes(connect: Connect) -> None:
    peer = await connect("/quart/ws/")
    for frame in ["text", b"bytes"]:
        await peer.send(frame)
        assert await peer.recv() == frame


async def test_manual_accept_with_the_right_password(connect: Connect) -> None:
    peer = await connect("/quart/reject/", headers=basic("quart", "s3cret"))
    assert await peer.recv() == "Hello, quart"


async def test_manual_reject_is_a_403_with_its_body(connect: Connect) -> None:
    with pytest.raises(Refused) as refused:
        await connect("/quart/reject/", headers=basic("quart", "wrong"))
    assert (refused.value.status, refused.value.body) == (403, b"Invalid password")


async def test_login_required_lets_credentials_through(connect: Connect) -> None:
    peer = await connect("/quart/protected/", headers=basic("any", "one"))
    await peer.send("ping")
    assert await peer.recv() == "ping"


async def test_login_required_abort_401(connect: Connect) -> None:
    """Also Quart's testing idiom: ``WebsocketResponseError.response.status_code == 401``."""
    with pytest.raises(Refused) as refused:
        await connect("/quart/protected/")
    assert refused.value.status == 401


async def test_sending_and_receiving_independently(connect: Connect) -> None:
    peer = await connect("/quart/independent/")
    for text in ["a", "b", "c"]:
        await peer.send(text)
    assert [await peer.recv() for _ in range(3)] == ["A", "B", "C"]


async def test_detecting_disconnection_sees_the_clients_close_code(connect: Connect) -> None:
    key = f"quart.disconnect.{CloseCode.GOING_AWAY}"
    before = (await read_stats(connect)).get(key, 0)
    peer = await connect("/quart/disconnect/")
    await peer.send("hi")
    assert await peer.recv() == "hi"
    await peer.close(CloseCode.GOING_AWAY)

    async def counted() -> bool:
        return (await read_stats(connect)).get(key, 0) == before + 1

    await wait_until(counted, 10, "the handler's disconnect branch")


async def test_close_after_accept(connect: Connect) -> None:
    peer = await connect("/quart/close/")
    assert await peer.closed() == (CloseCode.NORMAL_CLOSURE, "")


async def test_close_before_accept_is_a_403(connect: Connect) -> None:
    with pytest.raises(Refused) as refused:
        await connect("/quart/close-before-accept/")
    assert (refused.value.status, refused.value.body) == (403, b"")


async def test_broker_chat_in_one_process(connect: Connect) -> None:
    """examples/chat's Broker works as it is, within one process."""
    ann = await connect("/quart/chat/")
    bob = await connect("/quart/chat/")
    assert [await ann.recv(), await bob.recv()] == ["subscribed", "subscribed"]
    await ann.send("message")
    assert [await ann.recv(), await bob.recv()] == ["message", "message"]
    await bob.close()
    await ann.send("still here")
    assert await ann.recv() == "still here"


async def test_room_chat_is_the_broker_on_every_process(connect: Connect) -> None:
    ann = await connect("/quart/room-chat/")
    bob = await connect("/quart/room-chat/")
    assert [await ann.recv(), await bob.recv()] == ["subscribed", "subscribed"]
    await ann.send("message")
    assert [await ann.recv(), await bob.recv()] == ["message", "message"]
