"""``TopicConsumer`` over the in-process stack: docs/topics.md's protocol, rule by rule.

Many rooms over one socket, each following the chat endpoint's rules with refusals as frames:
the order of a subscribe's frames, hold + floor under concurrent broadcasts, resume with
``since``, the cap, idempotent resubscribes, presence shared with ``RoomConsumer`` and
``rooms.online()``, the server's end of a room (close, kick, ban, make private, archive)
ending a topic and not the socket, and anonymous readers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.checks import Error
from django.test import override_settings

from consumers.chat import ChatConsumer
from tests.support.timing import wait_until
from tests.wsapp.helpers import FakeClock
from wsapp import rooms
from wsapp.asgi import websocket_application
from wsapp.checks import check_settings
from wsapp.codes import CloseCode
from wsapp.exceptions import LayerUnavailable
from wsapp.hub.hub import get_hub
from wsapp.models import Membership, Message, Room
from wsapp.rooms import moderation, topics
from wsapp.rooms.history import save_message
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_teardown")]


class Topics(rooms.TopicConsumer):
    subprotocols = ["wsapp.v1"]
    max_body_length = 2000

    async def can_join(self, room: Room) -> bool:
        return room.slug != "staff-only"


class OpenTopics(Topics):
    anonymous_readers = True


ROUTER = Router(
    [
        path("ws/topics/", Topics),
        path("ws/open-topics/", OpenTopics),
        path("ws/chat/<slug:room>/", ChatConsumer),
    ]
)
Connect = Callable[..., Awaitable[AsyncWebSocketSession]]


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    """``await connect(user, url="/ws/topics/")`` → a session on the real stack."""
    client = AsyncWebSocketClient(websocket_application(ROUTER))
    opened: list[AsyncWebSocketSession] = []

    async def open_(user: Any = None, url: str = "/ws/topics/") -> AsyncWebSocketSession:
        session = client.websocket_connect(url, user=user, subprotocols=["wsapp.v1"])
        opened.append(session)
        return await session.connect()

    yield open_
    for session in opened:
        await session.close()


@pytest.fixture
def lobby(db: Any) -> Room:
    return Room.objects.create(slug="lobby", title="Lobby")


@pytest.fixture
def kitchen(db: Any) -> Room:
    return Room.objects.create(slug="kitchen", title="Kitchen")


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="bob-password")


async def subscribe(ws: AsyncWebSocketSession, topic: str, **fields: Any) -> dict[str, Any]:
    """Subscribe and read the three frames of a successful subscribe; return them by type."""
    await ws.send_json({"type": "subscribe", "topic": topic, **fields})
    frames = [await ws.receive_json() for _ in range(3)]
    assert [(f["type"], f["topic"]) for f in frames] == [
        ("subscribed", topic),
        ("history", topic),
        ("presence.state", topic),
    ]
    return {f["type"]: f for f in frames}


async def subscribed_pair(connect: Connect, first: Any, second: Any) -> list[AsyncWebSocketSession]:
    """A socket of ``first`` then one of ``second``, each subscribed to lobby in that order."""
    sockets = [await connect(first), await connect(second)]
    for ws in sockets:
        await subscribe(ws, "lobby")
    return sockets


async def refused(ws: AsyncWebSocketSession, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json({"type": "subscribe", **frame})
    answer = await ws.receive_json()
    assert answer["type"] == "subscribe.refused", answer
    return answer


async def barrier(ws: AsyncWebSocketSession, name: str = "barrier") -> list[dict[str, Any]]:
    """The frames this socket got before its answer to an unsubscribe of ``name`` (a topic it
    does not have): everything the server had sent it before handling that frame."""
    await ws.send_json({"type": "unsubscribe", "topic": name})
    frames = []
    while (frame := await ws.receive_json()) != {
        "type": "unsubscribed",
        "topic": name,
        "code": 1000,
        "reason": "",
    }:
        frames.append(frame)
    return frames


async def post(ws: AsyncWebSocketSession, topic: str, body: str, cid: str) -> dict[str, Any]:
    await ws.send_json({"type": "chat.message", "topic": topic, "body": body, "client_id": cid})
    while (frame := await ws.receive_json())["type"] != "chat.ack":
        pass
    return frame


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# -- subscribing ------------------------------------------------------------------------------


async def test_a_subscribe_sends_subscribed_then_history_then_presence_state(
    connect: Connect, lobby: Room, user: Any
) -> None:
    await Message.objects.acreate(room=lobby, body="before")
    ws = await connect(user)
    assert ws.subprotocol == "wsapp.v1"
    got = await subscribe(ws, "lobby")
    assert got["subscribed"] == {"type": "subscribed", "topic": "lobby"}
    assert [m["body"] for m in got["history"]["messages"]] == ["before"]
    assert got["history"]["truncated"] is False
    assert got["presence.state"] == {"type": "presence.state", "topic": "lobby", "users": ["alice"]}
    assert await rooms.aonline("lobby") == ["alice"]


async def test_messages_are_acked_and_reach_topic_and_chat_endpoint_members(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, bob: Any
) -> None:
    alice = await connect(user)
    await subscribe(alice, "lobby")
    await subscribe(alice, "kitchen")
    bob_topics = await connect(bob)
    assert (await subscribe(bob_topics, "lobby"))["presence.state"]["users"] == ["alice", "bob"]
    assert await alice.receive_json() == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
        "topic": "lobby",
    }
    chat = await connect(bob, "/ws/chat/lobby/")  # the single-room endpoint, same room
    assert [(await chat.receive_json())["type"] for _ in range(2)] == ["history", "presence.state"]

    ack = await post(alice, "lobby", "hi", "c-1")
    stored = await Message.objects.aget()
    assert ack == {"type": "chat.ack", "topic": "lobby", "client_id": "c-1", "id": stored.id}
    live = await bob_topics.receive_json()
    assert (live["type"], live["topic"], live["id"], live["body"], live["user"]) == (
        "chat.message",
        "lobby",
        stored.id,
        "hi",
        "alice",
    )
    plain = await chat.receive_json()
    assert "topic" not in plain and plain["id"] == stored.id  # a plain socket: as broadcast
    assert await barrier(alice) == []  # the sender gets its ack only, and kitchen got nothing


async def test_a_retried_client_id_is_stored_once_acked_with_its_id_not_rebroadcast(
    connect: Connect, lobby: Room, user: Any, bob: Any
) -> None:
    alice, other = await subscribed_pair(connect, user, bob)
    first = await post(alice, "lobby", "once", "same")
    assert await post(alice, "lobby", "once", "same") == first
    assert await Message.objects.acount() == 1
    await post(alice, "lobby", "marker", "m")  # the room's frames reach bob in order
    assert [f.get("body") for f in await barrier_room(other)] == ["once", "marker"]


async def barrier_room(ws: AsyncWebSocketSession) -> list[dict[str, Any]]:
    """The chat messages a socket got until one with body ``marker``, that one included."""
    return [f for f in await barrier_room_all(ws) if f["type"] == "chat.message"]


async def test_resume_with_since_per_topic_and_its_cap(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, settings: Any
) -> None:
    settings.WSAPP = {**settings.WSAPP, "HISTORY_MAX_REPLAY": 2, "HISTORY_LENGTH": 3}
    ids = [(await Message.objects.acreate(room=lobby, body=f"m{i}")).id for i in range(5)]
    await Message.objects.acreate(room=kitchen, body="k")
    ws = await connect(user)
    resumed = (await subscribe(ws, "lobby", since=ids[2]))["history"]
    assert ([m["id"] for m in resumed["messages"]], resumed["truncated"]) == (ids[3:], False)
    capped = (await subscribe(ws, "lobby", since=ids[0]))["history"]
    assert ([m["id"] for m in capped["messages"]], capped["truncated"]) == (ids[1:3], True)
    recent = (await subscribe(ws, "lobby"))["history"]
    assert [m["id"] for m in recent["messages"]] == ids[2:]
    assert [m["body"] for m in (await subscribe(ws, "kitchen"))["history"]["messages"]] == ["k"]


async def test_a_resubscribe_is_idempotent(
    connect: Connect, lobby: Room, user: Any, bob: Any
) -> None:
    watcher = await connect(bob)
    await subscribe(watcher, "lobby")
    alice = await connect(user)
    await subscribe(alice, "lobby")
    assert (await watcher.receive_json())["joins"] == ["alice"]
    again = await subscribe(alice, "lobby")
    assert again["presence.state"]["users"] == ["alice", "bob"]
    assert [c["user"] for c in await rooms.aonline_connections("lobby")].count("alice") == 1
    await post(alice, "lobby", "marker", "m")
    assert [f["type"] for f in await barrier_room(watcher)] == ["chat.message"]  # no 2nd join
    await alice.send_json({"type": "unsubscribe", "topic": "lobby"})
    assert (await alice.receive_json())["code"] == 1000
    assert await rooms.aonline("lobby") == ["bob"]  # one unsubscribe leaves: one membership


# -- per-topic refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("room", "code", "error", "message"),
    [
        (None, 4404, "not_found", "No room 'lobby'."),
        ({"is_archived": True}, 4410, "room_closed", "Room 'lobby' is archived."),
        ({"is_private": True}, 4403, "forbidden", "Room 'lobby' is private."),
        ({"banned": True}, 4403, "forbidden", "You are banned from 'lobby'."),
        ({"max_members": 1}, 4503, "room_full", "Room 'lobby' is full (1 members)."),
    ],
    ids=["missing", "archived", "private", "banned", "full"],
)
async def test_room_rules_refuse_the_topic_with_the_chat_endpoints_code_and_keep_the_socket(
    connect: Connect,
    kitchen: Room,
    user: Any,
    bob: Any,
    room: dict[str, Any] | None,
    code: int,
    error: str,
    message: str,
) -> None:
    if room is not None:
        fields = {k: v for k, v in room.items() if k != "banned"}
        lobby = await Room.objects.acreate(slug="lobby", title="Lobby", **fields)
        if room.get("banned"):
            await Membership.objects.acreate(room=lobby, user=user, is_banned=True)
        if lobby.max_members:
            await subscribe(await connect(bob), "lobby")
    ws = await connect(user)
    assert await refused(ws, {"topic": "lobby"}) == {
        "type": "subscribe.refused",
        "topic": "lobby",
        "code": code,
        "error": error,
        "message": message,
    }
    await subscribe(ws, "kitchen")  # the socket is open and subscribes elsewhere
    assert "alice" not in await rooms.aonline("lobby")


async def test_can_join_and_bad_topics_and_since_are_refused_per_topic(
    connect: Connect, lobby: Room, user: Any, settings: Any
) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_INVALID_FRAMES": 20}  # ten bad ones in a row here
    await Room.objects.acreate(slug="staff-only", title="Staff")
    ws = await connect(user)
    assert (await refused(ws, {"topic": "staff-only"}))[
        "message"
    ] == "You may not join 'staff-only'."
    for bad in ["not a slug", "", 5, None, "x" * 65]:
        answer = await refused(ws, {"topic": bad})
        assert (answer["code"], answer["error"]) == (4400, "bad_request")
        assert answer.get("topic") == (bad if isinstance(bad, str) else None)
    for since in [-1, "3", 1.5, True, 2**63]:  # 2**63: past any id, no driver takes it
        answer = await refused(ws, {"topic": "lobby", "since": since})
        assert (answer["topic"], answer["code"], answer["message"]) == (
            "lobby",
            4400,
            '"since" must be a message id (an integer ≥ 0).',
        )
    await subscribe(ws, "lobby")


async def test_the_cap_on_topics_per_connection(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, settings: Any
) -> None:
    await Room.objects.acreate(slug="attic", title="Attic")
    settings.WSAPP = {**settings.WSAPP, "MAX_TOPICS_PER_CONNECTION": 2}
    ws = await connect(user)
    await subscribe(ws, "lobby")
    await subscribe(ws, "kitchen")
    assert await refused(ws, {"topic": "attic"}) == {
        "type": "subscribe.refused",
        "topic": "attic",
        "code": 4429,
        "error": "too_many_topics",
        "message": "At most 2 topics per connection.",
    }
    await subscribe(ws, "kitchen")  # a resubscribe is not a new topic
    await ws.send_json({"type": "unsubscribe", "topic": "kitchen"})
    assert (await ws.receive_json())["type"] == "unsubscribed"
    await subscribe(ws, "attic")


def test_a_bad_max_topics_setting_is_a_system_check_error() -> None:
    with override_settings(WSAPP={"MAX_TOPICS_PER_CONNECTION": 0}):
        assert check_settings() == [
            Error(
                'WSAPP["MAX_TOPICS_PER_CONNECTION"] is 0.',
                hint="Use a positive integer.",
                id="wsapp.E004",
            )
        ]


async def test_the_layer_away_refuses_the_topic_with_1013_and_the_socket_stays(
    connect: Connect, lobby: Room, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = await connect(user)
    hub = await get_hub()
    real_join = hub.join

    async def away(*args: Any, **kwargs: Any) -> None:
        raise LayerUnavailable("test: redis is away")

    monkeypatch.setattr(hub, "join", away)
    answer = await refused(ws, {"topic": "lobby"})
    assert (answer["code"], answer["error"]) == (1013, "try_again_later")
    assert await rooms.aonline("lobby") == []
    monkeypatch.setattr(hub, "join", real_join)
    await subscribe(ws, "lobby")


# -- leaving ----------------------------------------------------------------------------------


async def test_unsubscribe_leaves_presence_and_posting_then_is_not_subscribed(
    connect: Connect, lobby: Room, user: Any, bob: Any
) -> None:
    watcher, alice = await subscribed_pair(connect, bob, user)
    assert (await watcher.receive_json())["joins"] == ["alice"]
    await alice.send_json({"type": "unsubscribe", "topic": "lobby"})
    assert await alice.receive_json() == {
        "type": "unsubscribed",
        "topic": "lobby",
        "code": 1000,
        "reason": "",
    }
    assert await watcher.receive_json() == {
        "type": "presence.diff",
        "joins": [],
        "leaves": ["alice"],
        "topic": "lobby",
    }
    assert await rooms.aonline("lobby") == ["bob"]
    await alice.send_json({"type": "chat.message", "topic": "lobby", "body": "x", "client_id": "c"})
    assert await alice.receive_json() == {
        "type": "error",
        "code": "not_subscribed",
        "message": "Not subscribed to 'lobby'.",
        "topic": "lobby",
        "client_id": "c",
    }
    await alice.send_json({"type": "typing", "topic": "lobby"})
    assert (await alice.receive_json())["code"] == "not_subscribed"
    assert await Message.objects.acount() == 0


async def test_closing_the_socket_leaves_every_topic(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, bob: Any
) -> None:
    watcher, alice = await connect(bob), await connect(user)
    for ws in (watcher, alice):
        for topic in ("lobby", "kitchen"):
            await subscribe(ws, topic)
    await alice.close()
    leaves = [await watcher.receive_json() for _ in range(4)]
    assert sorted((f["topic"], f["leaves"]) for f in leaves if f["leaves"]) == [
        ("kitchen", ["alice"]),
        ("lobby", ["alice"]),
    ]
    assert await rooms.aonline("lobby") == await rooms.aonline("kitchen") == ["bob"]


# -- live frames on a topic -------------------------------------------------------------------


async def test_typing_reaches_the_topics_others_tagged(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, bob: Any
) -> None:
    alice, other = await connect(user), await connect(bob)
    await subscribe(alice, "lobby")
    await subscribe(alice, "kitchen")
    await subscribe(other, "lobby")
    await alice.receive_json()  # bob's presence.diff
    await other.send_json({"type": "typing", "topic": "lobby"})
    assert await alice.receive_json() == {"type": "typing", "user": "bob", "topic": "lobby"}
    assert await barrier(other) == []


async def test_typing_is_throttled_per_topic_and_a_post_lets_the_next_one_through(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, bob: Any, monkeypatch: Any
) -> None:
    clock = FakeClock.install(monkeypatch, topics)
    alice, other = await connect(user), await connect(bob)
    for ws in (alice, other):
        for topic in ("lobby", "kitchen"):
            await subscribe(ws, topic)
    for _ in range(2):
        assert (await alice.receive_json())["joins"] == ["bob"]

    async def typing(topic: str, count: int) -> None:
        for _ in range(count):
            await other.send_json({"type": "typing", "topic": topic})
        assert await barrier(other) == []  # handled before the clock moves on

    await typing("lobby", 5)  # one delivery for the five
    await typing("kitchen", 2)  # another room: its own throttle
    clock.at(0.9 * Topics.typing_interval)
    await typing("lobby", 2)  # still within the interval: none
    await post(other, "lobby", "m", "m")
    await typing("lobby", 2)  # the post ended bob's typing line in lobby: one at once
    await typing("kitchen", 1)  # not in kitchen, where he did not post
    clock.at(Topics.typing_interval)
    await typing("kitchen", 1)  # the next interval: one
    await post(other, "lobby", "marker", "marker")
    frames = await barrier_room_all(alice)
    assert [(f["topic"], f.get("body", f["type"])) for f in frames] == [
        ("lobby", "typing"),
        ("kitchen", "typing"),
        ("lobby", "m"),
        ("lobby", "typing"),
        ("kitchen", "typing"),
        ("lobby", "marker"),
    ]


async def barrier_room_all(ws: AsyncWebSocketSession) -> list[dict[str, Any]]:
    """Every frame a socket got until the chat message with body ``marker``, that one included."""
    frames = []
    while (frame := await ws.receive_json()).get("body") != "marker":
        frames.append(frame)
    return [*frames, frame]


async def test_presence_of_a_chat_endpoint_member_reaches_topic_subscribers_tagged(
    connect: Connect, lobby: Room, user: Any, bob: Any
) -> None:
    alice = await connect(user)
    await subscribe(alice, "lobby")
    chat = await connect(bob, "/ws/chat/lobby/")
    assert [(await chat.receive_json())["type"] for _ in range(2)] == ["history", "presence.state"]
    assert await alice.receive_json() == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
        "topic": "lobby",
    }
    await chat.close()
    assert (await alice.receive_json())["leaves"] == ["bob"]


async def test_a_subscribe_misses_nothing_and_repeats_nothing_under_concurrent_broadcasts(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, bob: Any, monkeypatch: Any
) -> None:
    """Broadcasts land before, during and after the history read, some lagging their commit:
    each message arrives once, in history or live; the other topic is never held."""
    sender, alice = await connect(bob), await connect(user)
    await subscribe(sender, "lobby")
    await subscribe(alice, "kitchen")
    real_history = topics.history_frame
    sent: dict[str, dict[str, Any]] = {}

    async def store(body: str, *, broadcast: bool = True) -> None:
        sent[body] = (await save_message(lobby, bob, body, body)).message
        if broadcast:
            await rooms.abroadcast("lobby", sent[body])

    async def racing_history(room: Room, *args: Any) -> dict[str, Any]:
        await store("before")  # in history, and held: dropped as seen
        await store("lagging", broadcast=False)  # committed now, broadcast after the read
        await rooms.abroadcast("kitchen", {"type": "notice", "n": 1})  # not held by lobby
        frame = await real_history(room, *args)
        await rooms.abroadcast("lobby", sent["lagging"])  # held or floored: dropped
        await store("after")  # not in history: held, then released
        return frame

    monkeypatch.setattr(topics, "history_frame", racing_history)
    await alice.send_json({"type": "subscribe", "topic": "lobby"})
    frames = [await alice.receive_json() for _ in range(4)]
    monkeypatch.setattr(topics, "history_frame", real_history)
    notice = {"type": "notice", "n": 1, "topic": "kitchen"}
    assert frames.index(notice) < [f["type"] for f in frames].index("subscribed")
    history = next(f for f in frames if f["type"] == "history")
    assert [m["body"] for m in history["messages"]] == ["before", "lagging"]
    await rooms.abroadcast("lobby", sent["before"])  # a broadcast lagging past the floor
    await post(sender, "lobby", "marker", "marker")
    live = [f["body"] for f in await barrier_room(alice)]
    assert live == ["after", "marker"]


# -- the server ends a topic, not the socket --------------------------------------------------


async def ended(ws: AsyncWebSocketSession, topic: str) -> list[dict[str, Any]]:
    """The frames of ``topic`` up to and including its ``unsubscribed``."""
    frames = []
    while True:
        frame = await ws.receive_json()
        if frame.get("topic") != topic or frame["type"] in {"presence.diff", "typing"}:
            continue
        frames.append(frame)
        if frame["type"] == "unsubscribed":
            return frames


@pytest.mark.parametrize("action", ["archive", "delete", "close"])
async def test_a_closed_room_ends_its_topic_with_4410_after_room_closed(
    connect: Connect, lobby: Room, kitchen: Room, user: Any, action: str, caplog: Any
) -> None:
    ws = await connect(user)
    await subscribe(ws, "lobby")
    await subscribe(ws, "kitchen")
    if action == "archive":
        await sync_to_async(moderation.archive)([lobby])
        reason = "This room has been archived."
    elif action == "delete":
        await sync_to_async(moderation.delete)(Room.objects.filter(slug="lobby"))
        reason = "This room has been deleted."
    else:
        await rooms.aclose("lobby", reason="Closing time.")
        reason = "Closing time."
    assert await ended(ws, "lobby") == [
        {"type": "room.closed", "reason": reason, "topic": "lobby"},
        {"type": "unsubscribed", "topic": "lobby", "code": 4410, "reason": reason},
    ]
    assert await rooms.aonline("lobby") == []
    assert await rooms.aonline("kitchen") == ["alice"]
    await post(ws, "kitchen", "still here", "k")  # the socket and its other topic live on
    if action != "close":
        assert (await refused(ws, {"topic": "lobby"}))["code"] in {4404, 4410}
    assert tracebacks(caplog) == []


@pytest.mark.parametrize("action", ["ban", "remove", "make_private", "kick"])
async def test_losing_access_ends_the_topic_with_4403(
    connect: Connect, kitchen: Room, user: Any, bob: Any, action: str
) -> None:
    room = await Room.objects.acreate(slug="lobby", title="Lobby", is_private=action == "remove")
    membership = await Membership.objects.acreate(room=room, user=user)
    await Membership.objects.acreate(room=room, user=bob)
    alice, watcher = await connect(user), await connect(bob)
    await subscribe(watcher, "lobby")
    await subscribe(alice, "lobby")
    await subscribe(alice, "kitchen")
    assert (await watcher.receive_json())["joins"] == ["alice"]
    if action == "ban":
        await sync_to_async(moderation.ban)([membership])
    elif action == "remove":
        membership.room = room
        await sync_to_async(moderation.remove)([membership])
    elif action == "make_private":
        await membership.adelete()
        await sync_to_async(moderation.make_private)(room)
    else:
        await rooms.akick("lobby", user, reason="Out.")
    (frame,) = await ended(alice, "lobby")
    assert (frame["type"], frame["code"]) == ("unsubscribed", 4403)
    assert await rooms.aonline("lobby") == ["bob"]
    assert (await watcher.receive_json())["leaves"] == ["alice"]
    await post(alice, "kitchen", "still here", "k")


async def test_a_room_closed_during_a_subscribe_ends_the_topic_after_its_history(
    connect: Connect, lobby: Room, user: Any, monkeypatch: Any
) -> None:
    ws = await connect(user)
    real_history = topics.history_frame
    hub = await get_hub()

    async def closing_history(room: Room, *args: Any) -> dict[str, Any]:
        await rooms.aclose("lobby", reason="Gone.")
        await wait_until(lambda: "lobby" not in hub.rooms, 5, "the hub ends the room")
        return await real_history(room, *args)

    monkeypatch.setattr(topics, "history_frame", closing_history)
    await ws.send_json({"type": "subscribe", "topic": "lobby"})
    frames = [await ws.receive_json() for _ in range(4)]
    assert [f["type"] for f in frames] == [
        "subscribed",
        "history",
        "presence.state",
        "unsubscribed",
    ]
    assert frames[-1] == {"type": "unsubscribed", "topic": "lobby", "code": 4410, "reason": "Gone."}
    assert await rooms.aonline("lobby") == []


# -- anonymous readers, and frames that are wrong ----------------------------------------------


async def test_anonymous_users_are_refused_at_connect_unless_the_consumer_allows_readers(
    connect: Connect,
) -> None:
    ws = await connect(None)
    assert await ws.wait_closed() == (CloseCode.NOT_AUTHENTICATED, "Log in to subscribe to rooms.")


async def test_anonymous_readers_read_open_rooms_only_and_never_post(
    connect: Connect, lobby: Room, user: Any
) -> None:
    await Room.objects.acreate(slug="open", title="Open", allow_anonymous=True)
    member = await connect(user)
    await subscribe(member, "open")
    reader = await connect(None, "/ws/open-topics/")
    state = (await subscribe(reader, "open"))["presence.state"]
    assert state["users"] == ["alice"]  # the reader is not in presence
    answer = await refused(reader, {"topic": "lobby"})
    assert (answer["code"], answer["error"], answer["message"]) == (
        4401,
        "not_authenticated",
        "Log in to read 'lobby'.",
    )
    await reader.send_json({"type": "chat.message", "topic": "open", "body": "hi"})
    assert await reader.receive_json() == {
        "type": "error",
        "code": "forbidden",
        "message": "You may not post in this room.",
        "topic": "open",
    }
    await post(member, "open", "to the readers", "r")
    assert (await reader.receive_json())["body"] == "to the readers"
    assert await rooms.aonline("open") == ["alice"]


@pytest.mark.parametrize(
    ("frame", "code", "topic"),
    [
        ('{"type": "nope", "topic": "lobby"}', "unknown_type", "lobby"),
        ('{"type": "chat.message", "body": "x"}', "invalid_message", None),
        ('{"type": "chat.message", "topic": "lobby", "body": ""}', "invalid_message", "lobby"),
        ('{"type": "unsubscribe", "topic": ["lobby"]}', "invalid_message", None),
        ('{"type": "typing", "topic": "no such"}', "invalid_message", None),
        ("[1, 2", "invalid_json", None),
    ],
)
async def test_a_wrong_frame_gets_an_error_naming_its_topic_and_the_socket_stays(
    connect: Connect, lobby: Room, user: Any, frame: str, code: str, topic: str | None
) -> None:
    ws = await connect(user)
    await subscribe(ws, "lobby")
    await ws.send_text(frame)
    error = await ws.receive_json()
    assert (error["type"], error["code"], error.get("topic")) == ("error", code, topic)
    await post(ws, "lobby", "still here", "ok")


async def test_repeated_bad_subscribes_close_with_4400_as_the_chat_endpoint_does(
    connect: Connect, user: Any, settings: Any
) -> None:
    settings.WSAPP = {**settings.WSAPP, "MAX_INVALID_FRAMES": 3}
    ws = await connect(user)
    for _ in range(3):
        await ws.send_json({"type": "subscribe", "topic": "not a slug"})
    assert [(await ws.receive_json())["code"] for _ in range(3)] == [4400] * 3
    assert await ws.wait_closed() == (CloseCode.BAD_REQUEST, "3 malformed messages in a row.")
