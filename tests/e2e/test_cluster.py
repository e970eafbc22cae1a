"""Two ``manage.py serve`` processes sharing a real redis-server and one database.

Rooms, presence, history, revocation and per-user caps must work across processes exactly as in
one: these tests talk to both over real sockets, kill one with SIGKILL, and drive the operational
side (archive, ban, logout, password change) from a third Django process.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.cluster import CLUSTER_SETTINGS, django_run, session_cookie, session_cookies
from tests.support.timing import scaled, wait_until
from wsapp.codes import CloseCode

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

# Short for quick tests; long enough that a loaded machine still renews in time (a TTL, unlike
# what the tests assert about it, stretches with the machine's load).
PRESENCE_TTL = scaled(4.0)
TIMEOUT = scaled(10.0)
# Sockets opened at once over the per-user cap (each accepted, then closed with 4409).
STORM = 60


def _start_cluster(start_server, database_url: str, redis_url: str | None):
    if redis_url is not None:
        # The previous test's servers were SIGKILLed at its teardown: their presence entries
        # would linger for a TTL. Each test starts from an empty Redis.
        import redis

        redis.Redis.from_url(redis_url).flushall()

    def start(n: int = 2, **wsapp: Any):
        env = {"DATABASE_URL": database_url, **({"REDIS_URL": redis_url} if redis_url else {})}
        settings = {"PRESENCE_TTL": PRESENCE_TTL, **wsapp}
        if redis_url is None:  # one process holds every socket: "both processes" are the same
            server = start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp=settings)
            return [server] * n
        return [
            start_server("serve", settings=CLUSTER_SETTINGS, env=env, wsapp=settings)
            for _ in range(n)
        ]

    return start


@pytest.fixture(params=["memory", "redis"])
def cluster(request, start_server, cluster_database_url):
    """``cluster(n)``: ``n`` serve processes on a shared Redis, or (``memory``) one process with
    the in-memory layer standing in for all ``n`` — the same tests, both deployments."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return _start_cluster(start_server, cluster_database_url, redis_url)


@pytest.fixture
def redis_cluster(start_server, cluster_database_url, redis_url):
    """Real separate processes on Redis: for what only exists across processes (a SIGKILLed
    peer, operations run from another process)."""
    return _start_cluster(start_server, cluster_database_url, redis_url)


def http_logout(server, cookie: str) -> int:
    """Log out through the server's own LogoutView (a CSRF-checked POST); return the status."""
    import http.client
    from http.cookies import SimpleCookie

    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    connection.request("GET", "/accounts/login/")
    response = connection.getresponse()
    response.read()
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    token = jar["csrftoken"].value
    connection.request(
        "POST",
        "/accounts/logout/",
        body=f"csrfmiddlewaretoken={token}",
        headers={
            "Cookie": f"{cookie}; csrftoken={token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


_dialed: list[ClientConnection] = []


async def dial(url: str, **options: Any) -> ClientConnection:
    """``websockets.connect`` whose connection is closed at the test's end, whatever happened."""
    options.setdefault("open_timeout", TIMEOUT)
    ws = await connect(url, **options)
    _dialed.append(ws)
    return ws


@pytest.fixture(autouse=True)
async def _close_dialed():
    yield
    while _dialed:
        ws = _dialed.pop()
        try:
            await asyncio.wait_for(ws.close(), 2)
        except (TimeoutError, OSError):
            pass
        ws.transport.abort()


@pytest.fixture(scope="module")
def cookies(cluster_database_url):
    return {name: session_cookie(cluster_database_url, name) for name in ("alice", "bob", "admin")}


async def open_chat(
    server, cookie: str | None, room: str = "lobby", query: str = ""
) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else {}
    return await dial(
        server.url(f"/ws/chat/{room}/{query}"),
        additional_headers=headers,
        subprotocols=["wsapp.v1"],
        open_timeout=TIMEOUT,
    )


async def recv(ws: ClientConnection, *, skip: tuple[str, ...] = ("typing",)) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] not in skip:
            return frame


async def recv_type(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others (e.g. presence diffs racing a join)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        frame = await recv(ws, skip=())
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame within {TIMEOUT}s")


async def join(server, cookie, room="lobby", query=""):
    ws = await open_chat(server, cookie, room, query)
    history = await recv(ws)
    assert history["type"] == "history"
    presence = await recv(ws)
    assert presence["type"] == "presence.state"
    return ws, history, presence


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or ""


async def test_message_on_one_process_reaches_the_other_with_the_same_id(cluster, cookies) -> None:
    p1, p2 = cluster()
    retry_id = uuid.uuid4().hex  # the database outlives the test: ids must be new each run
    alice, history, presence = await join(p1, cookies["alice"])
    assert "alice" in presence["users"]
    assert all(m["type"] == "chat.message" for m in history["messages"])
    bob, _, bob_presence = await join(p2, cookies["bob"])
    assert {"alice", "bob"} <= set(bob_presence["users"])
    assert await recv_type(alice, "presence.diff") == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
    }
    await alice.send(json.dumps({"type": "chat.message", "body": "across", "client_id": retry_id}))
    ack = await recv_type(alice, "chat.ack")
    message = await recv_type(bob, "chat.message")
    assert (message["id"], message["body"], message["user"]) == (ack["id"], "across", "alice")
    # A retry of the same client_id on the other process: same id, stored once, not re-broadcast.
    await alice.close()
    alice2, _, _ = await join(p2, cookies["alice"])
    await alice2.send(json.dumps({"type": "chat.message", "body": "across", "client_id": retry_id}))
    assert (await recv_type(alice2, "chat.ack"))["id"] == ack["id"]
    await bob.send(json.dumps({"type": "typing"}))
    assert (await recv(alice2, skip=("presence.diff",))) == {"type": "typing", "user": "bob"}
    await alice2.close()
    await bob.close()


async def test_resume_with_since_gets_what_was_missed_on_another_process(cluster, cookies) -> None:
    p1, p2 = cluster()
    run = uuid.uuid4().hex[:12]
    bob, history, _ = await join(p1, cookies["bob"], room="random")
    last = history["messages"][-1]["id"] if history["messages"] else 0
    await bob.close()
    alice, _, _ = await join(p2, cookies["alice"], room="random")
    sent = []
    for i in range(3):
        await alice.send(
            json.dumps({"type": "chat.message", "body": f"missed {i}", "client_id": f"{run}-{i}"})
        )
        sent.append((await recv_type(alice, "chat.ack"))["id"])
    bob, history, _ = await join(p1, cookies["bob"], room="random", query=f"?since={last}")
    assert [m["id"] for m in history["messages"]] == sent
    await alice.close()
    await bob.close()


async def test_sigkilled_process_users_leave_presence_within_one_ttl(
    redis_cluster, cookies
) -> None:
    p1, p2 = redis_cluster()
    alice, _, _ = await join(p1, cookies["alice"], room="random")
    bob, _, _ = await join(p2, cookies["bob"], room="random")
    assert await recv_type(alice, "presence.diff") == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
    }
    killed_at = time.monotonic()
    p2.stop(signal.SIGKILL)
    diff = await recv_type(alice, "presence.diff")
    assert diff == {"type": "presence.diff", "joins": [], "leaves": ["bob"]}
    # One TTL plus one refresh (TTL/3), with slack for a loaded machine.
    assert time.monotonic() - killed_at < PRESENCE_TTL * 2 + scaled(2)
    await alice.close()


async def test_room_close_from_another_process_closes_members_everywhere_with_4410(
    redis_cluster,
    cookies,
    cluster_database_url,
    redis_url,
) -> None:
    p1, p2 = redis_cluster()
    a, _, _ = await join(p1, cookies["alice"], room="random")
    b, _, _ = await join(p2, cookies["bob"], room="random")
    django_run(
        cluster_database_url,
        "from django.core.management import call_command\n"
        "call_command('rooms', 'close', 'random', '--reason', 'Closed for the night')",
        env={"REDIS_URL": redis_url},
    )
    for ws in (a, b):
        assert await recv_type(ws, "room.closed") == {
            "type": "room.closed",
            "reason": "Closed for the night",
        }
        assert await closed_with(ws) == (CloseCode.ROOM_CLOSED, "Closed for the night")


async def test_ban_kicks_the_user_live_on_every_process_with_4403(
    redis_cluster,
    cookies,
    cluster_database_url,
    redis_url,
) -> None:
    p1, p2 = redis_cluster()
    bob1, _, _ = await join(p1, cookies["bob"])
    bob2, _, _ = await join(p2, cookies["bob"])
    alice, _, _ = await join(p1, cookies["alice"])
    django_run(
        cluster_database_url,
        "from django.contrib.auth import get_user_model\n"
        "from wsapp.models import Membership, Room\n"
        "from wsapp import rooms\n"
        "room = Room.objects.get(slug='lobby'); bob = get_user_model().objects.get(username='bob')\n"
        "Membership.objects.update_or_create(room=room, user=bob, defaults={'is_banned': True})\n"
        "rooms.kick(room, bob, reason='Banned.')",
        env={"REDIS_URL": redis_url},
    )
    try:
        for ws in (bob1, bob2):
            assert await closed_with(ws) == (CloseCode.FORBIDDEN, "Banned.")
        refused = await open_chat(p2, cookies["bob"])
        assert await closed_with(refused) == (CloseCode.FORBIDDEN, "You are banned from 'lobby'.")
        assert alice.state.name == "OPEN"
    finally:
        django_run(
            cluster_database_url,
            "from wsapp.models import Membership\nMembership.objects.filter(user__username='bob').delete()",
        )
        await alice.close()


async def test_logout_closes_the_users_sockets_on_every_process_with_4401(
    cluster, cookies, cluster_database_url
) -> None:
    p1, p2 = cluster()
    s1, _, _ = await join(p1, cookies["admin"], room="staff")
    s2 = await dial(p2.url("/ws/echo/"), additional_headers={"Cookie": cookies["admin"]})
    other, _, _ = await join(p2, cookies["alice"])
    # A real logout through the server's LogoutView, from another session of the same user.
    another_session = session_cookie(cluster_database_url, "admin")
    assert await asyncio.to_thread(http_logout, p1, another_session) == 302
    assert await closed_with(s1) == (CloseCode.NOT_AUTHENTICATED, "Logged out.")
    assert await closed_with(s2) == (CloseCode.NOT_AUTHENTICATED, "Logged out.")
    await other.send(json.dumps({"type": "typing"}))
    assert other.state.name == "OPEN"
    await other.close()


async def test_password_change_closes_sockets_everywhere(
    redis_cluster, cookies, cluster_database_url, redis_url
) -> None:
    p1, p2 = redis_cluster()
    django_run(
        cluster_database_url,
        "from django.contrib.auth import get_user_model\n"
        "get_user_model().objects.get_or_create(username='carol')",
    )
    cookie = session_cookie(cluster_database_url, "carol")
    a = await dial(p1.url("/ws/echo/"), additional_headers={"Cookie": cookie})
    b = await dial(p2.url("/ws/echo/"), additional_headers={"Cookie": cookie})
    django_run(
        cluster_database_url,
        "from django.contrib.auth import get_user_model\n"
        "u = get_user_model().objects.get(username='carol'); u.set_password('carol-new'); u.save()",
        env={"REDIS_URL": redis_url},
    )
    for ws in (a, b):
        assert await closed_with(ws) == (CloseCode.NOT_AUTHENTICATED, "Credentials changed.")


async def counted(server, headers: dict[str, str]) -> ClientConnection:
    """An echo socket that the per-user cap has counted: it answered, so accept() returned."""
    ws = await dial(server.url("/ws/echo/"), additional_headers=headers)
    await ws.send("counted?")
    assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "counted?"
    return ws


async def test_connection_cap_counts_across_processes_and_a_crash_releases_it(
    redis_cluster, cookies
) -> None:
    p1, p2 = redis_cluster(MAX_CONNECTIONS_PER_USER=2)
    headers = {"Cookie": cookies["alice"]}
    # A socket counts once its accept hooks ran, which is after the handshake the client sees:
    # the first echo proves it. Without waiting, the third socket's count on p1 could run
    # before the second's on p2, and the second would be the one refused.
    first = await counted(p1, headers)
    second = await counted(p2, headers)
    third = await dial(p1.url("/ws/echo/"), additional_headers=headers)
    code, reason = await closed_with(third)
    assert (code, reason) == (
        CloseCode.TOO_MANY_CONNECTIONS,
        "At most 2 connections per user; close one and retry.",
    )
    for ws in (first, second):  # the refusal hit the newest socket only
        await ws.send("still open")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "still open"
    anonymous = await dial(p1.url("/ws/echo/"))  # the cap is per user
    await anonymous.send("still served")
    assert await asyncio.wait_for(anonymous.recv(), TIMEOUT) == "still served"
    p2.stop(signal.SIGKILL)
    deadline = time.monotonic() + PRESENCE_TTL * 2 + scaled(3)
    while True:  # the dead process's socket stops counting within one TTL
        again = await dial(p1.url("/ws/echo/"), additional_headers=headers)
        try:
            await again.send("hi")
            assert await asyncio.wait_for(again.recv(), TIMEOUT) == "hi"
            break
        except ConnectionClosed:
            assert again.close_code == CloseCode.TOO_MANY_CONNECTIONS
            assert time.monotonic() < deadline, "the crashed process's connection still counts"
            await asyncio.sleep(0.5)
    for ws in (first, again, anonymous):
        await ws.close()


async def test_a_storm_of_over_cap_sockets_each_gets_its_4409_after_the_handshake(
    cluster, cookies
) -> None:
    """The write path's regression test: a close right after accept, many at once.

    Every socket over the per-user cap is accepted, then closed by its accept hook. Each must
    see the 101 response, then exactly the 4409 close frame with its reason: never a close
    frame before the handshake response, a reset (1006) or a close without a status (1005).
    """
    p1, p2 = cluster(MAX_CONNECTIONS_PER_USER=1)
    headers = {"Cookie": cookies["alice"]}
    held = await counted(p1, headers)

    async def over_cap(server) -> tuple[int, str]:
        ws = await dial(server.url("/ws/echo/"), additional_headers=headers)
        return await closed_with(ws)

    results = await asyncio.gather(*(over_cap((p1, p2)[n % 2]) for n in range(STORM)))
    refused = (
        CloseCode.TOO_MANY_CONNECTIONS,
        "At most 1 connections per user; close one and retry.",
    )
    assert results == [refused] * STORM
    await held.send("still open")  # the storm took no place from the one within the cap
    assert await asyncio.wait_for(held.recv(), TIMEOUT) == "still open"


async def test_a_thousand_sockets_across_two_processes_all_receive_a_broadcast(cluster) -> None:
    # One client opens 1,000 sockets at once, all of them into one process in the `memory`
    # deployment: more than MAX_PENDING_HANDSHAKES (512) waiting for their headers, and on a busy
    # machine the client takes over MIN_PENDING_AGE to send them all, so the server's slowloris
    # guard rightly drops the oldest (tests/security/test_handshakes.py tests that). This test is
    # about the fan-out: the guard and the handshake and connect timeouts are sized for the
    # crowd it dials (the application accepts a thousand at once, behind one another).
    p1, p2 = cluster(MAX_PENDING_HANDSHAKES=2000, HANDSHAKE_TIMEOUT=30.0, CONNECT_TIMEOUT=30.0)
    members = await asyncio.gather(
        *(
            dial((p1 if i % 2 else p2).url("/ws/broadcast/big/"), open_timeout=30)
            for i in range(1000)
        )
    )
    try:
        # A member is in the room once its handler has joined, which is after the handshake its
        # client sees (the 101 leaves at once): warm-up broadcasts until each has had one.
        firsts = [asyncio.ensure_future(ws.recv()) for ws in members]
        deadline = time.monotonic() + 30
        while not all(first.done() for first in firsts):
            assert time.monotonic() < deadline, "not every member joined within 30 s"
            await members[0].send("warm-up")
            await asyncio.wait(firsts, timeout=0.5)
        await members[0].send("to everyone")

        async def bodies_until_the_broadcast(ws: ClientConnection, first: str) -> list[str]:
            bodies = [json.loads(first)["body"]]
            while bodies[-1] != "to everyone":
                bodies.append(json.loads(await asyncio.wait_for(ws.recv(), 30))["body"])
            return bodies

        seen = await asyncio.gather(
            *(
                bodies_until_the_broadcast(ws, first.result())
                for ws, first in zip(members, firsts, strict=True)
            )
        )
        assert len(seen) == 1000
        for bodies in seen:  # every member: warm-ups, then the broadcast, nothing else
            assert set(bodies[:-1]) <= {"warm-up"} and bodies[-1] == "to everyone"
    finally:
        await asyncio.gather(*(ws.close() for ws in members), return_exceptions=True)


async def test_per_user_rate_limit_is_shared_across_processes(cluster, cookies) -> None:
    p1, p2 = cluster(RATE_LIMIT_PER_USER="1/m burst 4", RATE_LIMIT_GRACE=60.0)
    headers = {"Cookie": cookies["bob"]}
    # The demo's JSON echo is a Consumer: it answers a dropped message with the error frame.
    a = await dial(p1.url("/ws/json-echo/"), additional_headers=headers)
    b = await dial(p2.url("/ws/json-echo/"), additional_headers=headers)
    for ws, n in ((a, 1), (b, 2), (a, 3), (b, 4)):
        await ws.send(json.dumps({"type": "echo", "n": n}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {"type": "echo", "n": n}
    await a.send(json.dumps({"type": "echo", "n": 5}))
    limited = json.loads(await asyncio.wait_for(a.recv(), TIMEOUT))
    assert (limited["type"], limited["code"]) == ("error", "rate_limited")
    await b.send(json.dumps({"type": "echo", "n": 6}))
    assert json.loads(await asyncio.wait_for(b.recv(), TIMEOUT))["code"] == "rate_limited"
    await a.close()
    await b.close()


async def test_a_crowd_on_two_processes_gets_exactly_max_members_seats(
    redis_cluster, cluster_database_url
) -> None:
    p1, p2 = redis_cluster()
    slug = f"cap-{uuid.uuid4().hex[:8]}"  # the database outlives the test
    django_run(
        cluster_database_url,
        f"from wsapp.models import Room; Room.objects.create(slug={slug!r}, max_members=2)",
    )
    crowd = session_cookies(
        cluster_database_url, [f"{slug}-{i}" for i in range(12)], create_users=True
    )
    sockets = await asyncio.gather(
        *(open_chat((p1, p2)[i % 2], cookie, room=slug) for i, cookie in enumerate(crowd))
    )

    async def outcome(ws: ClientConnection) -> str | tuple[int, str]:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        except ConnectionClosed:
            return ws.close_code or 0, ws.close_reason or ""
        return "admitted" if frame["type"] == "history" else str(frame)

    outcomes = await asyncio.gather(*(outcome(ws) for ws in sockets))
    full = (CloseCode.ROOM_FULL, f"Room {slug!r} is full (2 members).")
    assert sorted(outcomes, key=str) == [full] * 10 + ["admitted"] * 2


async def test_idle_hubs_log_nothing_and_deliver_the_next_message_at_once(
    redis_cluster, cookies
) -> None:
    """redis-py's 5 s socket timeout used to end the hub's 5 s blocking read: a traceback per
    idle hub every ~6 s, and the first message after 5 s of silence waited out a 1 s back-off."""
    p1, p2 = redis_cluster()
    run = uuid.uuid4().hex[:12]
    alice, _, _ = await join(p1, cookies["alice"], room="random")
    bob, _, _ = await join(p2, cookies["bob"], room="random")
    await recv_type(alice, "presence.diff")
    latencies = []
    # Five silences of 6.5 s (32 s idle in all): each one outlasts a blocking read, so every
    # message is the first after an idle read timed out. The wait *is* the scenario here.
    for i, (sender, receiver) in enumerate([(alice, bob), (bob, alice)] * 2 + [(alice, bob)]):
        await asyncio.sleep(6.5)
        sent_at = time.monotonic()
        body = f"after silence {i}"
        await sender.send(
            json.dumps({"type": "chat.message", "body": body, "client_id": f"{run}-{i}"})
        )
        assert (await recv_type(receiver, "chat.message"))["body"] == body
        latencies.append(time.monotonic() - sent_at)
    assert max(latencies) < scaled(0.5), latencies
    for server in (p1, p2):
        output = server.output()
        assert "could not read from the channel layer" not in output
        assert "Channel layer unavailable" not in output
        assert "Traceback" not in output


async def wait_for_output(server, text: str) -> None:
    """Until ``text`` appears in the server's output (it logs asynchronously)."""
    await wait_until(
        lambda: text in server.output(), 10.0, f"{text!r} logged", detail=server.output
    )


async def test_redis_outage_is_logged_once_refuses_with_1013_and_resyncs_members(
    redis_server, start_server, cluster_database_url, cookies
) -> None:
    p1, p2 = _start_cluster(start_server, cluster_database_url, redis_server.url)()
    run = uuid.uuid4().hex[:12]
    alice, _, _ = await join(p1, cookies["alice"], room="random")
    bob, history, _ = await join(p2, cookies["bob"], room="random")
    last = history["messages"][-1]["id"] if history["messages"] else 0
    await recv_type(alice, "presence.diff")
    signed_in = await counted(p1, {"Cookie": cookies["admin"]})  # no room: may miss a logout
    anonymous = await counted(p2, {})  # needs no layer at all

    redis_server.kill()
    for server in (p1, p2):
        await wait_for_output(server, "Channel layer unavailable")
    # Stored before it is acknowledged: the database is up, so the sender gets its ack.
    await alice.send(json.dumps({"type": "chat.message", "body": "in the dark", "client_id": run}))
    ack = await recv_type(alice, "chat.ack")
    refused = await open_chat(p2, cookies["bob"], room="random")
    assert await closed_with(refused) == (
        CloseCode.TRY_AGAIN_LATER,
        "The server is briefly unavailable; try again.",
    )
    # An anonymous reader is refused as always (the demo's rooms are for members), not with 1011.
    refused_anonymous = await open_chat(p1, None, room="random")
    assert (await closed_with(refused_anonymous))[0] == CloseCode.NOT_AUTHENTICATED

    redis_server.start()  # empty, on the same port: every group and presence entry is gone
    for ws in (alice, bob, signed_in):
        assert await closed_with(ws) == (
            CloseCode.SERVICE_RESTART,
            "Live updates were interrupted; reconnect to resume.",
        )
    await anonymous.send("still here")
    assert await asyncio.wait_for(anonymous.recv(), TIMEOUT) == "still here"
    bob, history, _ = await join(p2, cookies["bob"], room="random", query=f"?since={last}")
    assert [(m["id"], m["body"]) for m in history["messages"]] == [(ack["id"], "in the dark")]
    alice, _, _ = await join(p1, cookies["alice"], room="random")
    await alice.send(json.dumps({"type": "chat.message", "body": "back", "client_id": f"{run}-b"}))
    assert (await recv_type(bob, "chat.message"))["body"] == "back"
    for server in (p1, p2):
        await wait_for_output(server, "Channel layer back after")
        output = server.output()
        assert output.count("Channel layer unavailable") == 1
        assert output.count("Channel layer back after") == 1
        assert "Traceback" not in output
