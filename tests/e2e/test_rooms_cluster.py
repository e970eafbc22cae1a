"""Run-time rooms, messages to a user, raw broadcasts, ``wsapp.broadcast`` and the publish
endpoint across two ``manage.py serve`` processes sharing a real redis-server.

Most tests run twice (a ``cluster`` fixture like tests/e2e/test_cluster.py's): on Redis with two
processes, and on the in-memory layer with one process standing in for both. What only exists
across processes (a SIGKILLed peer, a sender in a third process) runs on Redis only. The sockets join through
tests/e2e/routing_rooms.py's ``ws/rooms/`` handler, which also answers questions about the
rooms API of the process it is on; a third Django process (``django_run``) plays the view, the
signal or the task queue worker that sends.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.cluster import django_run, session_cookies
from tests.e2e.test_cluster import _start_cluster
from tests.support.timing import scaled, wait_until
from wsapp.codes import CloseCode

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

PRESENCE_TTL = scaled(4.0)
TIMEOUT = scaled(10.0)
SECRET = "publish-secret-for-the-cluster-tests-0123456789"
ROUTES = {"ROUTING": "tests.e2e.routing_rooms", "PUBLISH_SECRET": SECRET}


@pytest.fixture(params=["memory", "redis"])
def cluster(request, start_server, cluster_database_url):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    start = _start_cluster(start_server, cluster_database_url, redis_url)
    return lambda n=2, **wsapp: start(n, **{**ROUTES, **wsapp})


@pytest.fixture
def redis_cluster(start_server, cluster_database_url, redis_url):
    start = _start_cluster(start_server, cluster_database_url, redis_url)
    return lambda n=2, **wsapp: start(n, **{**ROUTES, **wsapp})


@pytest.fixture(scope="module")
def cookies(cluster_database_url: str) -> dict[str, str]:
    names = ["alice", "bob"]
    return dict(zip(names, session_cookies(cluster_database_url, names), strict=True))


@pytest_asyncio.fixture
async def dial() -> AsyncIterator[Any]:
    """``dial(server, cookie, query)``: a ``ws/rooms/`` socket that has joined; all are closed
    at the test's end, whatever happened."""
    opened: list[ClientConnection] = []

    async def open_member(
        server: Any, cookie: str | None = None, query: str = "", **options: Any
    ) -> Any:
        headers = {"Cookie": cookie} if cookie else {}
        ws = await connect(
            server.url(f"/ws/rooms/{query}"),
            additional_headers=headers,
            open_timeout=TIMEOUT,
            max_size=None,
            **options,
        )
        opened.append(ws)
        assert (await recv(ws))["type"] == "joined"
        return ws

    yield open_member
    for ws in opened:
        try:
            await asyncio.wait_for(ws.close(), 2)
        except (TimeoutError, OSError):
            pass
        ws.transport.abort()


async def recv_raw(ws: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), TIMEOUT)


async def recv(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next JSON frame (of type ``kind``: others, e.g. presence diffs, are skipped)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        frame = await recv_raw(ws)
        decoded = json.loads(frame)
        if kind is None or (isinstance(decoded, dict) and decoded.get("type") == kind):
            return decoded
    raise AssertionError(f"no {kind} frame within {TIMEOUT}s")


async def ask(ws: ClientConnection, kind: str, **command: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"do": kind, **command}))
    return await recv(ws, kind)


def run_elsewhere(database_url: str, redis_url: str, code: str) -> None:
    """``code`` in a third Django process on the cluster's database and Redis (a view, a
    signal receiver or a Celery task sends from such a process)."""
    django_run(database_url, f"from wsapp import rooms\n{code}", env={"REDIS_URL": redis_url})


async def test_send_to_user_reaches_the_users_sockets_on_both_processes(
    redis_cluster, cookies, dial, cluster_database_url, redis_url
) -> None:
    p1, p2 = redis_cluster()
    tab1, tab2 = await dial(p1, cookies["alice"]), await dial(p2, cookies["alice"])
    bob = await dial(p2, cookies["bob"])
    run_elsewhere(
        cluster_database_url,
        redis_url,
        "from django.contrib.auth.models import User\n"
        "rooms.send_to_user(User.objects.get(username='alice'), {'type': 'notice', 'n': 1})",
    )
    assert await recv(tab1, "notice") == {"type": "notice", "n": 1}
    assert await recv(tab2, "notice") == {"type": "notice", "n": 1}
    await ask(bob, "active")  # bob's next frame is his own answer: nothing came before it
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(bob.recv(), 0.2)


async def test_broadcast_raw_text_and_bytes_reach_members_on_both_processes(
    redis_cluster, dial, cluster_database_url, redis_url
) -> None:
    p1, p2 = redis_cluster()
    a = await dial(p1, query="?rooms=ticker&presence=0")
    b = await dial(p2, query="?rooms=ticker&presence=0")
    run_elsewhere(
        cluster_database_url,
        redis_url,
        "rooms.broadcast_raw('ticker', 'AAPL 187.2')\nrooms.broadcast_raw('ticker', b'\\x00\\xff')",
    )
    for ws in (a, b):
        assert await recv_raw(ws) == "AAPL 187.2"
        assert await recv_raw(ws) == b"\x00\xff"


async def test_members_joined_at_run_time_see_each_other_in_online_and_active(
    cluster, cookies, dial
) -> None:
    p1, p2 = cluster()
    alice = await dial(p1, cookies["alice"], "?rooms=north")
    bob = await dial(p2, cookies["bob"], "?rooms=north,south")
    assert await recv(alice, "presence.diff") == {
        "type": "presence.diff",
        "joins": ["bob"],
        "leaves": [],
    }
    assert (await ask(alice, "online", room="north"))["users"] == ["alice", "bob"]
    assert (await ask(alice, "active"))["rooms"] == ["north", "south"]
    assert (await ask(bob, "online", room="south"))["users"] == ["bob"]
    await ask(bob, "leave", room="north")
    assert await recv(alice, "presence.diff") == {
        "type": "presence.diff",
        "joins": [],
        "leaves": ["bob"],
    }
    assert (await ask(alice, "online", room="north"))["users"] == ["alice"]
    await ask(alice, "leave", room="north")
    assert (await ask(bob, "active"))["rooms"] == ["south"]


async def test_the_publish_endpoint_on_one_process_delivers_on_the_other(
    cluster, cookies, dial
) -> None:
    p1, p2 = cluster()
    member = await dial(p2, cookies["bob"], "?rooms=alerts")
    body = json.dumps({"room": "alerts", "data": {"type": "alert", "level": "high"}}).encode()
    status, answer = post_signed(p1, body)
    assert (status, answer) == (200, {"room": "alerts", "raw": False, "connections": 1, "users": 1})
    assert await recv(member, "alert") == {"type": "alert", "level": "high"}
    # The same request again is a replay, refused on whichever process gets it.
    assert post_signed(p2, body, resend=True)[0] == 401
    raw = json.dumps({"room": "alerts", "data": "plain words", "raw": True}).encode()
    assert post_signed(p1, raw)[0] == 200
    assert await recv_raw(member) == "plain words"


async def test_wsapp_broadcast_under_serve_reaches_the_local_set(cluster, dial) -> None:
    (p1,) = cluster(1)
    a, b = await dial(p1), await dial(p1)
    await a.send(json.dumps({"do": "fanout", "text": "to all of you"}))
    got = {await recv_raw(a), await recv_raw(a)}
    assert json.loads(next(f for f in got if f != "to all of you")) == {
        "type": "fanned",
        "queued": 2,
    }
    assert "to all of you" in got
    assert await recv_raw(b) == "to all of you"


@pytest.mark.parametrize("pace", [False, True], ids=["queued-here", "buffered-by-serve"])
async def test_wsapp_broadcast_to_a_client_that_does_not_read_closes_it_1013(
    cluster, dial, pace: bool
) -> None:
    """Calls in a row outgrow the socket's queue in the process; paced calls hand each frame
    to the server, whose send buffer then outgrows ``MAX_SEND_BUFFER``: 1013 either way."""
    (p1,) = cluster(1)
    sender = await dial(p1)
    # websockets stops reading its socket once max_queue frames wait unread: a stalled peer.
    # Uncompressed, so the server's buffer holds the frames' own bytes ("x" * n deflates to ~0).
    stalled = await dial(p1, max_queue=1, compression=None)
    # The e2e servers' MAX_SEND_BUFFER is 1 MiB: 64 frames of 256 KiB are 16.
    command = {"do": "fanout", "size": 256 * 1024, "times": 64, "others": True, "yield": pace}
    await sender.send(json.dumps(command))
    assert (await recv(sender, "fanned"))["queued"] >= 1
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(stalled.recv(), TIMEOUT)
    assert stalled.close_code == CloseCode.TRY_AGAIN_LATER
    assert stalled.close_reason == "send buffer full"
    await ask(sender, "active")  # the sender's socket and its process are fine


async def test_a_killed_process_rooms_leave_active_within_one_ttl(
    redis_cluster, cookies, dial
) -> None:
    p1, p2 = redis_cluster(PRESENCE_TTL=PRESENCE_TTL)
    watcher = await dial(p1, cookies["alice"], "?rooms=stays")
    await dial(p2, cookies["bob"], "?rooms=doomed,stays")
    assert (await ask(watcher, "active"))["rooms"] == ["doomed", "stays"]
    p2.stop(signal.SIGKILL)

    async def bob_gone() -> bool:
        # Its rooms and its users expire apart (each entry's deadline is its own renewal's).
        active = (await ask(watcher, "active"))["rooms"]
        online = (await ask(watcher, "online", room="stays"))["users"]
        return active == ["stays"] and online == ["alice"]

    # One TTL plus one refresh (TTL/3), with slack for a loaded machine.
    await wait_until(bob_gone, PRESENCE_TTL * 2 + 2, "the killed process's rooms to drop out")


_sent: dict[bytes, dict[str, str]] = {}


def post_signed(server: Any, body: bytes, *, resend: bool = False) -> tuple[int, Any]:
    """POST ``body`` to ``/wsapp/publish/`` as curl would, signed as the README shows
    (``resend``: the very headers of the last request with this body, a replay)."""
    if resend:
        headers = _sent[body]
    else:
        stamp = str(int(time.time()))
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"X-Wsapp-Timestamp": stamp, "X-Wsapp-Signature": f"sha256={mac}"}
        _sent[body] = headers
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        connection.request(
            "POST",
            "/wsapp/publish/",
            body=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
