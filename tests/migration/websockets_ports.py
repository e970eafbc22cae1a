"""The ``websockets`` library's documented examples, ported.

Originals: python-websockets/websockets ``example/asyncio/server.py`` (hello), ``echo.py``,
``example/quick/counter.py`` (``broadcast()``), ``example/quick/show_time.py`` (a send-only
loop), ``docs/topics/authentication.rst`` (first message, ``process_request`` with a query
parameter, ``basic_auth``) and ``docs/faq/server.rst`` ("send a message to a single user").
Routed under ``/websockets/``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from http import HTTPStatus

import wsapp
from tests.migration.common import EVENTS, basic_credentials
from wsapp import WebSocket
from wsapp.codes import CloseCode
from wsapp.routing import path

logger = logging.getLogger(__name__)

#: A project's own tokens (``get_user(token)`` in the originals).
TOKENS = {"alice-project-token": "alice"}
REALM = "my dev server"
CREDENTIALS = ("hello", "iloveyou")
#: show_time's pause between two sends: random 1-3 s in the original, short for the tests.
TICK = 0.05


async def hello(ws: WebSocket) -> None:
    """example/asyncio/server.py: read a name, greet it; returning closes with 1000."""
    await ws.accept()
    name = await ws.receive_text()
    await ws.send_text(f"Hello {name}!")


async def echo(ws: WebSocket) -> None:
    """example/asyncio/echo.py: ``async for message in websocket``, str or bytes."""
    await ws.accept()
    async for message in ws:
        await ws.send(message)


class Counter:
    """counter.py's module globals ``USERS`` and ``VALUE``, held in one object."""

    def __init__(self) -> None:
        self.users: set[WebSocket] = set()
        self.value = 0

    def users_event(self) -> str:
        return json.dumps({"type": "users", "count": len(self.users)})

    def value_event(self) -> str:
        return json.dumps({"type": "value", "value": self.value})


COUNTER = Counter()


async def counter(ws: WebSocket) -> None:
    """example/quick/counter.py: ``broadcast(USERS, message)`` is ``wsapp.broadcast``, a plain
    call (no await) that encodes once and skips closed sockets."""
    await ws.accept()
    try:
        COUNTER.users.add(ws)
        wsapp.broadcast(COUNTER.users, COUNTER.users_event())
        await ws.send(COUNTER.value_event())
        async for message in ws:
            event = json.loads(message)
            if event["action"] == "minus":
                COUNTER.value -= 1
                wsapp.broadcast(COUNTER.users, COUNTER.value_event())
            elif event["action"] == "plus":
                COUNTER.value += 1
                wsapp.broadcast(COUNTER.users, COUNTER.value_event())
            else:
                logger.error("unsupported event: %s", event)
    finally:
        COUNTER.users.discard(ws)
        wsapp.broadcast(COUNTER.users, COUNTER.users_event())


async def show_time(ws: WebSocket) -> None:
    """example/quick/show_time.py: it only sends, so it learns that the client left from the
    send that fails (``WebSocketDisconnect``), and its ``finally`` runs."""
    await ws.accept()
    try:
        while True:
            await ws.send_text(datetime.now(tz=UTC).isoformat())
            await asyncio.sleep(TICK)
    finally:
        EVENTS["websockets.show_time.ended"] += 1


async def first_message(ws: WebSocket) -> None:
    """authentication.rst, "First message": the token is the first frame. The original closes
    with 1011; wsapp's clients retry after 1011 (a server error), so this closes with 4401."""
    await ws.accept()
    token = await ws.receive_text()
    user = TOKENS.get(token)
    if user is None:
        await ws.close(CloseCode.NOT_AUTHENTICATED, "authentication failed")
        return
    await ws.send_text(f"Hello {user}!")


async def query_param_auth(ws: WebSocket) -> None:
    """authentication.rst, "Query parameter": ``process_request`` answering 401 is a handler
    that denies before accepting; the project's ``?token=`` is its own, not wsapp's."""
    token = ws.query_params.get("token")
    if token is None:
        await ws.deny(HTTPStatus.UNAUTHORIZED, "Missing token\n")
        return
    user = TOKENS.get(token)
    if user is None:
        await ws.deny(HTTPStatus.UNAUTHORIZED, "Invalid token\n")
        return
    await ws.accept()
    ws.state.username = user
    await ws.send_text(f"Hello {ws.state.username}!")


async def basic_auth(ws: WebSocket) -> None:
    """``serve(..., process_request=basic_auth(realm=..., credentials=...))``: 401 with
    ``WWW-Authenticate`` and websockets' bodies; on success, the username on the connection."""
    challenge = [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')]
    header = ws.headers.get("authorization")
    if header is None:
        await ws.deny(HTTPStatus.UNAUTHORIZED, "Missing credentials\n", headers=challenge)
        return
    credentials = basic_credentials(header)
    if credentials is None:
        await ws.deny(HTTPStatus.UNAUTHORIZED, "Unsupported credentials\n", headers=challenge)
        return
    if credentials != CREDENTIALS:
        await ws.deny(HTTPStatus.UNAUTHORIZED, "Invalid credentials\n", headers=challenge)
        return
    await ws.accept()
    ws.state.username = credentials[0]
    await ws.send_text(f"Hello {ws.state.username}!")


async def notifications(ws: WebSocket) -> None:
    """faq/server.rst, "send a message to a single user": no ``CONNECTIONS`` dict to keep; a
    signed-in socket is reachable by ``rooms.send_to_user`` on every process. The original's
    ``wait_closed()`` needs a reader in wsapp, so the handler reads until the client leaves."""
    await ws.accept()
    async for _ in ws:
        pass


urlpatterns = [
    path("hello/", hello),
    path("echo/", echo),
    path("counter/", counter),
    path("show-time/", show_time),
    path("first-message/", first_message),
    path("query-param/", query_param_auth),
    path("basic-auth/", basic_auth),
    path("notifications/", notifications),
]
