"""The demo chat over the in-process stack: DESIGN.md's wire protocol, exactly."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from consumers.chat import ChatConsumer
from tests.wsapp.helpers import FakeClock
from wsapp.codes import CloseCode
from wsapp.exceptions import WebSocketDisconnect
from wsapp.models import Membership, Message, Room
from wsapp.rooms import aonline
from wsapp.testing import HandshakeRejected

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lobby(db) -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password")


async def join(communicator, user, room="lobby", query=""):
    ws = await communicator(f"/ws/chat/{room}/{query}", user=user, subprotocols=["wsapp.v1"])
    history = await ws.receive_json()
    presence = await ws.receive_json()
    return ws, history, presence


async def test_join_sends_history_then_presence_state(communicator, lobby, user) -> None:
    ws, history, presence = await join(communicator, user)
    assert ws.subprotocol == "wsapp.v1"
    assert history == {"type": "history", "messages": [], "truncated": False}
    assert presence == {"type": "presence.state", "users": ["alice"]}


async def test_message_is_acked_to_sender_and_broadcast_to_others_with_the_same_id(
    communicator, lobby, user, bob
) -> None:
    alice_ws, _, _ = await join(communicator, user)
    bob_ws, _, bob_presence = await join(communicator, bob)
    assert bob_presence["users"] == ["alice", "bob"]
    assert await alice_ws.receive_json() == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
    }
    await alice_ws.send_json({"type": "chat.message", "body": "hi", "client_id": "c-1"})
    ack = await alice_ws.receive_json()
    stored = await Message.objects.aget()
    assert ack == {"type": "chat.ack", "client_id": "c-1", "id": stored.id}
    message = await bob_ws.receive_json()
    assert message["type"] == "chat.message"
    assert (message["id"], message["user"], message["body"], message["room"]) == (
        stored.id,
        "alice",
        "hi",
        "lobby",
    )
    assert await alice_ws.receive_nothing()


async def test_retry_with_same_client_id_is_stored_once_acked_same_id_not_rebroadcast(
    communicator, lobby, user, bob
) -> None:
    alice_ws, _, _ = await join(communicator, user)
    bob_ws, _, _ = await join(communicator, bob)
    await alice_ws.receive_json()  # bob's presence.diff
    for _ in range(2):
        await alice_ws.send_json({"type": "chat.message", "body": "once", "client_id": "same"})
    first, second = await alice_ws.receive_json(), await alice_ws.receive_json()
    assert first == second
    assert await Message.objects.acount() == 1
    assert (await bob_ws.receive_json())["body"] == "once"
    assert await bob_ws.receive_nothing(0.2)


async def test_resume_with_since_replays_what_was_missed(communicator, lobby, user) -> None:
    ids = [(await Message.objects.acreate(room=lobby, body=f"m{i}")).id for i in range(5)]
    _, history, _ = await join(communicator, user, query=f"?since={ids[2]}")
    assert [m["id"] for m in history["messages"]] == ids[3:]
    assert history["truncated"] is False


async def test_resume_is_capped_and_says_truncated(communicator, lobby, user, settings) -> None:
    settings.WSAPP = {**settings.WSAPP, "HISTORY_MAX_REPLAY": 2}
    ids = [(await Message.objects.acreate(room=lobby, body=f"m{i}")).id for i in range(5)]
    _, history, _ = await join(communicator, user, query=f"?since={ids[0]}")
    assert [m["id"] for m in history["messages"]] == ids[1:3]
    assert history["truncated"] is True


async def test_history_on_join_is_the_last_history_length(
    communicator, lobby, user, settings
) -> None:
    settings.WSAPP = {**settings.WSAPP, "HISTORY_LENGTH": 3}
    ids = [(await Message.objects.acreate(room=lobby, body=f"m{i}")).id for i in range(5)]
    _, history, _ = await join(communicator, user)
    assert [m["id"] for m in history["messages"]] == ids[2:]


async def test_presence_diff_on_leave_and_two_tabs_count_once(
    communicator, lobby, user, bob
) -> None:
    alice_ws, _, _ = await join(communicator, user)
    bob_tab1, _, _ = await join(communicator, bob)
    bob_tab2, _, state = await join(communicator, bob)
    assert state["users"] == ["alice", "bob"]
    assert await alice_ws.receive_json() == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
    }
    assert await alice_ws.receive_nothing(0.2)  # the second tab is not a second join
    await bob_tab1.close()
    assert await alice_ws.receive_nothing(0.2)  # still online in the other tab
    await bob_tab2.close()
    assert await alice_ws.receive_json() == {
        "type": "presence.diff",
        "joins": [],
        "leaves": ["bob"],
    }
    assert await aonline("lobby") == ["alice"]


async def test_typing_reaches_others_only(communicator, lobby, user, bob) -> None:
    alice_ws, _, _ = await join(communicator, user)
    bob_ws, _, _ = await join(communicator, bob)
    await alice_ws.receive_json()
    await bob_ws.send_json({"type": "typing"})
    assert await alice_ws.receive_json() == {"type": "typing", "user": "bob"}
    assert await bob_ws.receive_nothing(0.2)


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"type": "chat.message", "body": "", "client_id": "c-9"}, "invalid_message"),
        ({"type": "chat.message", "body": 5}, "invalid_message"),
        ({"type": "chat.message", "body": "x" * 2001}, "too_large"),
        ({"type": "chat.message", "body": "x", "client_id": ["no"]}, "invalid_message"),
        ({"type": "nope"}, "unknown_type"),
    ],
    ids=["empty-body", "non-string-body", "too-long", "bad-client-id", "unknown-type"],
)
async def test_invalid_messages_get_error_frames_and_the_connection_stays_open(
    communicator, lobby, user, content, code
) -> None:
    ws, _, _ = await join(communicator, user)
    await ws.send_json(content)
    error = await ws.receive_json()
    assert (error["type"], error["code"]) == ("error", code)
    if isinstance(content.get("client_id"), str):
        assert error["client_id"] == content["client_id"]
    await ws.send_json({"type": "chat.message", "body": "still here", "client_id": "ok"})
    assert (await ws.receive_json())["type"] == "chat.ack"


@pytest.mark.parametrize(
    ("setup", "code", "reason"),
    [
        ("missing", CloseCode.ROOM_NOT_FOUND, "No room 'lobby'."),
        ("archived", CloseCode.ROOM_CLOSED, "Room 'lobby' is archived."),
        ("private", CloseCode.FORBIDDEN, "Room 'lobby' is private."),
        ("banned", CloseCode.FORBIDDEN, "You are banned from 'lobby'."),
        ("full", CloseCode.ROOM_FULL, "Room 'lobby' is full (1 members)."),
    ],
)
async def test_room_rules_refuse_with_their_codes(
    communicator, user, bob, setup, code, reason
) -> None:
    if setup != "missing":
        room = await Room.objects.acreate(
            slug="lobby",
            title="Lobby",
            is_archived=setup == "archived",
            is_private=setup == "private",
            max_members=1 if setup == "full" else None,
        )
        if setup == "banned":
            await Membership.objects.acreate(room=room, user=user, is_banned=True)
        if setup == "full":
            await join(communicator, bob)
    ws = await communicator("/ws/chat/lobby/", user=user)
    assert await ws.wait_closed() == (code, reason)


async def test_the_demo_refuses_anonymous_readers_as_its_page_does(communicator, client) -> None:
    """The chat page needs a login, so its socket does too: even a room open to anonymous
    readers is not, through a consumer that does not allow them."""
    await Room.objects.acreate(slug="lobby", title="Lobby", allow_anonymous=True)
    assert (await sync_to_async(client.get)("/rooms/lobby/")).status_code == 302
    ws = await communicator("/ws/chat/lobby/?since=0", subprotocols=["wsapp.v1"])
    assert await ws.wait_closed() == (CloseCode.NOT_AUTHENTICATED, "Log in to read 'lobby'.")


async def test_unknown_room_path_param_shape_is_refused(communicator) -> None:
    with pytest.raises(HandshakeRejected):
        await communicator("/ws/chat/not a slug/")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def shared_store(request):
    """The in-memory layer, or a real Redis (its store keys cleared: ``flush()`` does not).
    Ask for it before ``communicator``, so the hub stops before the layer is flushed."""
    if request.param == "redis":
        import redis

        redis.Redis.from_url(request.getfixturevalue("redis_layer")).flushdb()
    return request.param


async def outcome(ws):
    """``"admitted"`` for a socket that gets its history, else its ``(code, reason)``."""
    try:
        frame = await ws.receive_json()
    except WebSocketDisconnect as exc:
        return (exc.code, exc.reason)
    return "admitted" if frame["type"] == "history" else frame


async def test_a_crowd_joining_at_once_gets_exactly_max_members_seats(
    shared_store, communicator, django_user_model, caplog
) -> None:
    await Room.objects.acreate(slug="small", title="Small", max_members=2)
    crowd = [await sync_to_async(django_user_model.objects.create_user)(f"u{i}") for i in range(12)]
    sockets = await asyncio.gather(
        *(communicator("/ws/chat/small/", user=u, subprotocols=["wsapp.v1"]) for u in crowd)
    )
    outcomes = [await outcome(ws) for ws in sockets]
    full = (CloseCode.ROOM_FULL, "Room 'small' is full (2 members).")
    assert sorted(outcomes, key=str) == [full] * 10 + ["admitted"] * 2
    seated = [u.username for u, o in zip(crowd, outcomes, strict=True) if o == "admitted"]
    assert await aonline("small") == sorted(seated)
    # A seat is freed by leaving, and a seated user's second tab takes no second seat.
    await sockets[outcomes.index("admitted")].close()
    waiting = crowd[outcomes.index(full)]
    again = await communicator("/ws/chat/small/", user=waiting, subprotocols=["wsapp.v1"])
    assert await outcome(again) == "admitted"
    second_tab = await communicator("/ws/chat/small/", user=waiting, subprotocols=["wsapp.v1"])
    assert await outcome(second_tab) == "admitted"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_typing_is_delivered_once_per_interval_per_user_across_tabs(
    shared_store, communicator, lobby, user, bob, monkeypatch
) -> None:
    from wsapp.rooms import consumer

    clock = FakeClock.install(monkeypatch, consumer)
    alice_ws, _, _ = await join(communicator, user)
    tabs = [(await join(communicator, bob))[0] for _ in range(2)]
    assert (await alice_ws.receive_json())["joins"] == ["bob"]
    interval = ChatConsumer.typing_interval
    assert interval == 2.0

    async def typing(*tabs_and_counts: tuple[int, int]) -> None:
        """Send ``count`` typing events on each tab, then wait until each tab handled them."""
        for tab, count in tabs_and_counts:
            for _ in range(count):
                await tabs[tab].send_json({"type": "typing"})
            await tabs[tab].send_json({"type": "barrier"})  # answered once all before it ran
            while (frame := await tabs[tab].receive_json())["type"] != "error":
                assert frame["type"] in {"typing", "chat.message"}  # from bob's other tab
            assert frame["code"] == "unknown_type"

    await typing((0, 25), (1, 25))  # one delivery for the 50
    clock.at(0.9 * interval)
    await typing((0, 3))  # still within the interval: none
    clock.at(interval)
    await typing((1, 3))  # the next interval: one
    await tabs[0].send_json({"type": "chat.message", "body": "m", "client_id": "m"})
    while (frame := await tabs[0].receive_json())["type"] != "chat.ack":
        assert frame["type"] == "typing"  # from bob's other tab
    await typing((0, 2))  # the message ended bob's typing line: the next typing shows at once
    for i, tab in enumerate(tabs):  # markers: each tab's frames reach alice in order
        await tab.send_json({"type": "chat.message", "body": f"end{i}", "client_id": f"e{i}"})
    frames = []
    while {"end0", "end1"} - {f.get("body") for f in frames}:
        frames.append(await alice_ws.receive_json())
    assert Counter(f.get("body", f["type"]) for f in frames) == Counter(
        {"typing": 3, "m": 1, "end0": 1, "end1": 1}
    )


# -- the chat page's endpoint: every room over one socket (docs/topics.md) ---------------------


async def subscribe(ws, topic: str) -> list[dict]:
    """Subscribe ``ws`` to ``topic``; the three frames a successful subscribe answers with."""
    await ws.send_json({"type": "subscribe", "topic": topic})
    return [await ws.receive_json() for _ in range(3)]


async def test_the_chat_page_endpoint_carries_every_room_over_one_socket(
    communicator, lobby, user, bob
) -> None:
    await Room.objects.acreate(slug="random", title="Random")
    alice_ws = await communicator("/ws/topics/", user=user, subprotocols=["wsapp.v1"])
    assert alice_ws.subprotocol == "wsapp.v1"
    assert await subscribe(alice_ws, "lobby") == [
        {"type": "subscribed", "topic": "lobby"},
        {"type": "history", "topic": "lobby", "messages": [], "truncated": False},
        {"type": "presence.state", "topic": "lobby", "users": ["alice"]},
    ]
    await subscribe(alice_ws, "random")
    bob_ws = await communicator("/ws/topics/", user=bob, subprotocols=["wsapp.v1"])
    await subscribe(bob_ws, "random")
    diff = await alice_ws.receive_json()
    assert diff == {"type": "presence.diff", "topic": "random", "joins": ["bob"], "leaves": []}
    assert await aonline("random") == ["alice", "bob"]  # the same presence as /ws/chat/

    await bob_ws.send_json(
        {"type": "chat.message", "topic": "random", "body": "hi", "client_id": "c-1"}
    )
    ack = await bob_ws.receive_json()  # sent once the message is stored
    stored = await Message.objects.select_related("room").aget()
    assert stored.room.slug == "random"
    assert ack == {"type": "chat.ack", "topic": "random", "client_id": "c-1", "id": stored.id}
    message = await alice_ws.receive_json()
    assert (message["type"], message["topic"], message["id"], message["body"]) == (
        "chat.message",
        "random",
        stored.id,
        "hi",
    )
    assert await alice_ws.receive_nothing()  # nothing in lobby


async def test_the_chat_page_endpoint_limits_bodies_as_the_single_room_one_does(
    communicator, lobby, user
) -> None:
    ws = await communicator("/ws/topics/", user=user, subprotocols=["wsapp.v1"])
    await subscribe(ws, "lobby")
    too_long = {"type": "chat.message", "topic": "lobby", "body": "x" * 2001, "client_id": "c"}
    await ws.send_json(too_long)
    error = await ws.receive_json()
    assert (error["type"], error["code"], error["topic"], error["client_id"]) == (
        "error",
        "too_large",
        "lobby",
        "c",
    )
    assert ChatConsumer.max_body_length == 2000


async def test_the_chat_page_endpoint_refuses_anonymous_users_as_its_page_does(
    communicator, client
) -> None:
    await Room.objects.acreate(slug="lobby", title="Lobby", allow_anonymous=True)
    assert (await sync_to_async(client.get)("/rooms/lobby/")).status_code == 302
    ws = await communicator("/ws/topics/", subprotocols=["wsapp.v1"])
    assert await ws.wait_closed() == (CloseCode.NOT_AUTHENTICATED, "Log in to subscribe to rooms.")
