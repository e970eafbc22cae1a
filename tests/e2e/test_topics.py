"""``TopicConsumer`` under real server processes: ``manage.py serve`` and plain Daphne on the
in-memory layer, and two ``serve`` processes sharing one redis-server and one database.

Two users on different processes, one socket each, subscribed to the same two rooms, exchange
messages in both; presence agrees on both sides; a reconnect that resubscribes with ``since``
misses nothing; a private room is refused per topic and the socket stays open; and a room
archived from a third process ends that topic on every process, not the sockets.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.e2e.cluster import CLUSTER_SETTINGS, django_run, session_cookies
from tests.e2e.test_cluster import _close_dialed, dial  # noqa: F401 (an autouse fixture)
from tests.support.timing import scaled

pytestmark = [pytest.mark.e2e]

TIMEOUT = scaled(10.0)
ROUTING = "tests.e2e.routes_topics"
URL = "/ws/test-topics/"


@pytest.fixture(
    params=["serve", "daphne", pytest.param("redis", marks=pytest.mark.redis)],
    ids=["serve-memory", "daphne-memory", "two-serve-redis"],
)
def deployment(request, start_server, cluster_database_url):
    """``(p1, p2, redis_url)``: two servers for the two users (the same one on the in-memory
    layer, where one process holds every socket), and the Redis they share (or ``None``)."""
    env = {"DATABASE_URL": cluster_database_url}
    wsapp = {"ROUTING": ROUTING}
    if request.param == "redis":
        import redis

        url = request.getfixturevalue("redis_url")
        redis.Redis.from_url(url).flushall()  # no presence left by an earlier test's processes
        env["REDIS_URL"] = url
        servers = [
            start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp=wsapp) for _ in range(2)
        ]
        return servers[0], servers[1], url
    server = start_server(request.param, settings=CLUSTER_SETTINGS, env=env, wsapp=wsapp)
    return server, server, None


@pytest.fixture(scope="module")
def cookies(cluster_database_url):
    alice, bob = session_cookies(cluster_database_url, ["alice", "bob"])
    return {"alice": alice, "bob": bob}


class Client:
    """One topics socket; frames read while looking for another are kept for later asks."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.unread: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def next(self, kind: str, topic: str | None = None) -> dict[str, Any]:
        """The oldest frame not yet asked for of type ``kind`` (and of ``topic``)."""

        def wanted(frame: dict[str, Any]) -> bool:
            return frame["type"] == kind and (topic is None or frame.get("topic") == topic)

        for index, frame in enumerate(self.unread):
            if wanted(frame):
                return self.unread.pop(index)
        while not wanted(frame := json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))):
            self.unread.append(frame)
        return frame

    async def subscribe(self, topic: str, since: int | None = None) -> dict[str, Any]:
        """Subscribe; the ``history`` and ``presence.state`` it got, after ``subscribed``."""
        since_field = {} if since is None else {"since": since}
        await self.send({"type": "subscribe", "topic": topic, **since_field})
        assert await self.next("subscribed", topic) == {"type": "subscribed", "topic": topic}
        history = await self.next("history", topic)
        state = await self.next("presence.state", topic)
        return {"history": history, "users": state["users"]}

    async def post(self, topic: str, body: str) -> int:
        client_id = uuid.uuid4().hex  # the database outlives the test: ids must be new
        await self.send(
            {"type": "chat.message", "topic": topic, "body": body, "client_id": client_id}
        )
        ack = await self.next("chat.ack", topic)
        assert ack["client_id"] == client_id
        return int(ack["id"])


async def open_topics(server, cookie: str) -> Client:
    ws = await dial(
        server.url(URL), additional_headers={"Cookie": cookie}, subprotocols=["wsapp.v1"]
    )
    assert ws.subprotocol == "wsapp.v1"
    return Client(ws)


async def follow(client: Client, topic: str, online: set[str], users: set[str]) -> None:
    """Apply ``topic``'s presence diffs to ``online`` until exactly ``users`` are online."""
    while online != users:
        diff = await client.next("presence.diff", topic)
        online = (online | set(diff["joins"])) - set(diff["leaves"])


async def test_two_users_on_two_processes_share_topics_over_one_socket_each(
    deployment, cookies
) -> None:
    p1, p2, _ = deployment
    alice, bob = await open_topics(p1, cookies["alice"]), await open_topics(p2, cookies["bob"])
    for topic in ("lobby", "random"):
        await alice.subscribe(topic)
    for topic in ("lobby", "random"):
        state = await bob.subscribe(topic)
        assert {"alice", "bob"} <= set(state["users"])
        diff = await alice.next("presence.diff", topic)
        assert diff["joins"] == ["bob"]
    refused = await _refused(bob, "staff")  # private: refused, the socket stays open
    assert (refused["code"], refused["error"]) == (4403, "forbidden")

    lobby_id = await alice.post("lobby", "hello lobby")
    random_id = await bob.post("random", "hello random")
    got = await bob.next("chat.message", "lobby")
    assert (got["id"], got["user"], got["body"], got["room"]) == (
        lobby_id,
        "alice",
        "hello lobby",
        "lobby",
    )
    got = await alice.next("chat.message", "random")
    assert (got["id"], got["user"], got["body"]) == (random_id, "bob", "hello random")

    await bob.send({"type": "typing", "topic": "random"})
    assert await alice.next("typing", "random") == {
        "type": "typing",
        "user": "bob",
        "topic": "random",
    }

    await bob.send({"type": "unsubscribe", "topic": "lobby"})
    assert await bob.next("unsubscribed", "lobby") == {
        "type": "unsubscribed",
        "topic": "lobby",
        "code": 1000,
        "reason": "",
    }
    assert (await alice.next("presence.diff", "lobby"))["leaves"] == ["bob"]
    await alice.post("lobby", "bob is gone from here")
    await alice.post("random", "marker")
    got = await bob.next("chat.message")
    assert (got["topic"], got["body"]) == ("random", "marker")  # nothing more from lobby


async def _refused(client: Client, topic: str) -> dict[str, Any]:
    await client.send({"type": "subscribe", "topic": topic})
    return await client.next("subscribe.refused", topic)


async def test_a_reconnect_resubscribing_with_since_misses_nothing(deployment, cookies) -> None:
    p1, p2, _ = deployment
    bob = await open_topics(p1, cookies["bob"])
    last = {}
    for topic in ("lobby", "random"):
        messages = (await bob.subscribe(topic))["history"]["messages"]
        last[topic] = messages[-1]["id"] if messages else 0
    await bob.ws.close()
    alice = await open_topics(p2, cookies["alice"])
    await alice.subscribe("lobby")
    await alice.subscribe("random")
    sent = {"lobby": [], "random": []}
    for i in range(3):
        for topic in sent:
            sent[topic].append(await alice.post(topic, f"missed {topic} {i}"))
    bob = await open_topics(p1, cookies["bob"])
    for topic in ("random", "lobby"):
        history = (await bob.subscribe(topic, since=last[topic]))["history"]
        assert [m["id"] for m in history["messages"]] == sent[topic]
        assert history["truncated"] is False
    after = await alice.post("lobby", "live again")
    assert (await bob.next("chat.message", "lobby"))["id"] == after


async def test_presence_agrees_on_both_processes_and_with_rooms_online(
    deployment, cookies, cluster_database_url
) -> None:
    p1, p2, redis_url = deployment
    alice, bob = await open_topics(p1, cookies["alice"]), await open_topics(p2, cookies["bob"])
    seen_by_alice = set((await alice.subscribe("random"))["users"])
    assert set((await bob.subscribe("random"))["users"]) == {"alice", "bob"}
    await follow(alice, "random", seen_by_alice, {"alice", "bob"})
    if redis_url is not None:  # a third process sees the same presence through Redis
        code = "from wsapp import rooms; print(','.join(rooms.online('random')))"
        assert django_run(cluster_database_url, code, {"REDIS_URL": redis_url}) == "alice,bob"
    await bob.ws.close()
    await follow(alice, "random", {"alice", "bob"}, {"alice"})


@pytest.mark.redis
async def test_a_room_archived_from_another_process_ends_its_topic_everywhere(
    start_server, cluster_database_url, redis_url, cookies
) -> None:
    """Moderation in a third process (the admin, a command): the topic ends on both serving
    processes with room.closed and 4410; the sockets and their other topics live on."""
    import redis

    redis.Redis.from_url(redis_url).flushall()
    env = {"DATABASE_URL": cluster_database_url, "REDIS_URL": redis_url}
    p1, p2 = (
        start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp={"ROUTING": ROUTING})
        for _ in range(2)
    )
    slug = f"t-{uuid.uuid4().hex[:12]}"
    django_run(
        cluster_database_url,
        f"from wsapp.models import Room; Room.objects.create(slug={slug!r}, title='T')",
    )
    alice, bob = await open_topics(p1, cookies["alice"]), await open_topics(p2, cookies["bob"])
    for client in (alice, bob):
        await client.subscribe(slug)
        await client.subscribe("random")
    django_run(
        cluster_database_url,
        "from wsapp.models import Room; from wsapp.rooms import moderation\n"
        f"moderation.archive(Room.objects.filter(slug={slug!r}), reason='Done here.')",
        {"REDIS_URL": redis_url},
    )
    for client in (alice, bob):
        assert await client.next("room.closed", slug) == {
            "type": "room.closed",
            "reason": "Done here.",
            "topic": slug,
        }
        assert await client.next("unsubscribed", slug) == {
            "type": "unsubscribed",
            "topic": slug,
            "code": 4410,
            "reason": "Done here.",
        }
    sent = await alice.post("random", "still here")
    assert (await bob.next("chat.message", "random"))["id"] == sent
    refused = await _refused(bob, slug)
    assert (refused["code"], refused["error"]) == (4410, "room_closed")
