"""BlackSheep's WebSocket examples, ported (:mod:`tests.migration.blacksheep_ports`),
in-process and under ``manage.py serve``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.migration.conftest import Connect, Peer
from wsapp.codes import CloseCode


async def test_text_echo(connect: Connect) -> None:
    peer = await connect("/blacksheep/ws/text/")
    await peer.send("Hello world!")
    assert await peer.recv() == "Hello world!"


async def test_bytes_echo(connect: Connect) -> None:
    peer = await connect("/blacksheep/ws/bytes/")
    await peer.send(b"Hello world")
    assert await peer.recv() == b"Hello world"


async def test_json_echo(connect: Connect) -> None:
    peer = await connect("/blacksheep/ws/json/")
    await peer.send_json({"msg": "Hello world!"})
    assert await peer.recv_json() == {"msg": "Hello world!"}


async def test_json_echo_closes_1007_on_bad_json(connect: Connect) -> None:
    """The original does not catch it either: uncaught, bad JSON ends the socket with 1007."""
    peer = await connect("/blacksheep/ws/json/")
    await peer.send("{not json")
    assert (await peer.closed())[0] == CloseCode.INVALID_PAYLOAD


async def test_accept_with_headers_and_subprotocol(connect: Connect) -> None:
    peer = await connect("/blacksheep/ws/accept/", subprotocols=["custom-protocol"])
    assert peer.subprotocol == "custom-protocol"
    assert peer.headers["x-custom-header"] == "custom-value"
    assert await peer.recv() == "subprotocol: custom-protocol"


async def test_route_parameter_arrives_as_an_argument(connect: Connect) -> None:
    peer = await connect("/blacksheep/ws/client-7/")
    assert await peer.recv() == "Hello, client-7"
    assert await peer.closed() == (CloseCode.NORMAL_CLOSURE, "")


def chat_message(author: str, text: str) -> dict[str, Any]:
    return {"author": author, "text": text, "timestamp": "2025-06-19T11:57:29"}


async def joined(connect: Connect, client_id: str) -> Peer:
    """A chat client, in the room once its first message comes back to it."""
    peer = await connect(f"/blacksheep/chat/{client_id}/")
    await peer.send_json(chat_message(client_id, "here"))
    assert await peer.recv_json() == chat_message(client_id, "here")
    return peer


async def server_text(peer: Peer) -> str:
    frame = await peer.recv_json()
    assert frame["author"] == "Server"
    assert isinstance(frame["timestamp"], str)
    return frame["text"]  # type: ignore[no-any-return]


async def test_chat_greets_broadcasts_and_says_bye(connect: Connect) -> None:
    ann = await joined(connect, "ann")
    bob = await connect("/blacksheep/chat/bob/")
    assert await server_text(ann) == "bob enters the chat"
    await bob.send_json(chat_message("bob", "hi all"))
    # bob's first frame is his message: the greeting goes to everyone but him.
    assert await bob.recv_json() == chat_message("bob", "hi all")
    assert await ann.recv_json() == chat_message("bob", "hi all")
    await bob.close()
    assert await server_text(ann) == "bob disconnected"


async def test_chat_answers_a_frame_that_is_not_a_message(connect: Connect) -> None:
    ann = await joined(connect, "ann")
    await ann.send_json({"text": "no author"})
    assert "Not a chat message" in (await ann.recv_json())["error"]
    await ann.send_json(chat_message("ann", "still open"))
    assert await ann.recv_json() == chat_message("ann", "still open")


async def test_chat_answers_bad_json_and_stays_open(connect: Connect) -> None:
    ann = await joined(connect, "ann")
    await ann.send("{not json")
    assert "Not a chat message" in (await ann.recv_json())["error"]
    await ann.send_json(chat_message("ann", "still open"))
    assert await ann.recv_json() == chat_message("ann", "still open")


async def topic_frame(peer: Peer, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind``, past the presence diffs of the topics joined so far."""
    while True:
        frame = await peer.recv_json()
        if frame["type"] != "presence.diff":
            assert frame["type"] == kind, frame
            return frame  # type: ignore[no-any-return]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["inprocess"])
async def test_one_socket_many_rooms(connect: Connect, django_user_model: Any) -> None:
    """The chat above, with every room over one socket (docs/topics.md's protocol). In-process
    only: its rooms and users live in the test's database."""
    from wsapp.models import Room

    for slug in ["bs-lobby", "bs-random"]:
        await Room.objects.acreate(slug=slug, title=slug)
    alice = await django_user_model.objects.acreate(username="alice")
    bob = await django_user_model.objects.acreate(username="bob")
    peers = []
    for user in (alice, bob):
        peer = await connect("/blacksheep/topics/", user=user, subprotocols=["wsapp.v1"])
        for topic in ["bs-lobby", "bs-random"]:
            await peer.send_json({"type": "subscribe", "topic": topic})
            assert await topic_frame(peer, "subscribed") == {"type": "subscribed", "topic": topic}
            history = await topic_frame(peer, "history")
            assert (history["topic"], history["messages"]) == (topic, [])
            presence = await topic_frame(peer, "presence.state")
            assert presence["topic"] == topic
            assert user.username in presence["users"]
        peers.append(peer)
    sender, receiver = peers
    post = {"type": "chat.message", "topic": "bs-random", "body": "hi", "client_id": "c-1"}
    await sender.send_json(post)
    ack = await topic_frame(sender, "chat.ack")
    assert (ack["topic"], ack["client_id"]) == ("bs-random", "c-1")
    message = await topic_frame(receiver, "chat.message")  # the sender has its ack, not a copy
    assert (message["topic"], message["body"], message["user"]) == ("bs-random", "hi", "alice")
