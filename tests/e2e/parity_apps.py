"""``wsapp.WebSocket`` handlers for the server-parity tests (issue 11), served under ``/parity/``.

Every other path goes to :data:`tests.e2e.asgi_apps.application` (``/test/...`` and the demo).
Each handler builds its socket with the process's registry, as a route does, so ``on_shutdown``
callbacks run on ``serve``'s drain. ``?marker=PATH`` makes a handler write how it ended to
``PATH`` from its ``finally``: the test's evidence that the cleanup ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

from tests.e2e.asgi_apps import _write_atomically
from tests.e2e.asgi_apps import application as test_application
from wsapp import lifecycle
from wsapp.connection import WebSocket
from wsapp.denial import basic_auth
from wsapp.exceptions import WebSocketDisconnect
from wsapp.types import Receive, Scope, Send

#: Seconds a send-only handler waits between its frames.
TICK = 0.05


def _params(ws: WebSocket) -> dict[str, str]:
    query = parse_qs(ws.scope.get("query_string", b"").decode())
    return {key: values[-1] for key, values in query.items()}


async def _report(ws: WebSocket, ending: str) -> None:
    marker = _params(ws).get("marker")
    if marker:
        await asyncio.to_thread(_write_atomically, Path(marker), ending)


async def send_only(ws: WebSocket) -> None:
    """Send ``tick`` forever, never receive; the marker says how the loop ended."""
    await ws.accept()
    ending = "returned"
    try:
        while True:
            await ws.send_text("tick")
            await asyncio.sleep(TICK)
    except WebSocketDisconnect as exc:
        ending = f"disconnect {exc.code}"
    except asyncio.CancelledError:
        ending = "cancelled"
        raise
    finally:
        await _report(ws, ending)


async def deny(ws: WebSocket) -> None:
    """Refuse with ``?status=``, the body ``nope`` and an ``X-Parity: yes`` header."""
    await ws.deny(int(_params(ws)["status"]), "nope\n", {"X-Parity": "yes"})


async def _check(username: str, password: str) -> bool:
    return (username, password) == ("ada", "s3cret")


async def basic(ws: WebSocket) -> None:
    """HTTP Basic at the handshake: ``ada``/``s3cret`` is greeted, anyone else gets 401."""
    user = await basic_auth(ws, _check, realm="parity")
    if user is not None:
        await ws.accept()
        await ws.send_text(f"hello {user}")
        await ws.wait_closed()


async def server_header(ws: WebSocket) -> None:
    """Accept with the application's own ``Server`` header, then wait for the close."""
    await ws.accept(headers={"Server": "custom/1.0"})
    await ws.wait_closed()


async def slow_accept(ws: WebSocket) -> None:
    """Never answer the handshake; the marker says the handler learnt the client was gone."""
    try:
        await ws.receive()  # the connect event
        await ws.receive()  # the disconnect, once the server gave up on us
        await _report(ws, f"gone {ws.close_code}")
    except asyncio.CancelledError:
        await _report(ws, "cancelled")
        raise


async def farewell(ws: WebSocket) -> None:
    """Say ``{"type": "server.shutdown"}`` from ``on_shutdown`` (then, with ``?hang=1``, never
    return from it); answer ``ready?`` with ``ready``."""
    await ws.accept()
    hang = bool(_params(ws).get("hang"))

    async def goodbye() -> None:
        await ws.send_json({"type": "server.shutdown"})
        if hang:
            await asyncio.sleep(3600)

    ws.on_shutdown(goodbye)
    ending = "returned"
    try:
        async for message in ws:
            if message == "ready?":
                await ws.send_text("ready")
    finally:
        ending = f"closed {ws.close_code} {ws.close_reason}"
        await _report(ws, ending)


async def deny_in_chunks(scope: Scope, receive: Receive, send: Send) -> None:
    """Raw ASGI: a denial whose body comes in three events, with the app's own Server header."""
    await receive()
    headers = [(b"server", b"custom/1.0"), (b"content-length", b"999")]  # the length is wrong
    await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
    for part, more in ((b"not ", True), (b"", True), (b"you", False)):
        await send({"type": "websocket.http.response.body", "body": part, "more_body": more})


#: Raw ASGI apps, for what ``WebSocket`` would not send.
RAW_APPS: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    "/parity/deny-in-chunks/": deny_in_chunks,
}

APPS: dict[str, Callable[[WebSocket], Awaitable[None]]] = {
    "/parity/send-only/": send_only,
    "/parity/deny/": deny,
    "/parity/basic/": basic,
    "/parity/server-header/": server_header,
    "/parity/slow-accept/": slow_accept,
    "/parity/farewell/": farewell,
}


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The parity handlers under ``/parity/``; :mod:`tests.e2e.asgi_apps` everywhere else."""
    if scope["type"] == "websocket" and scope.get("path") in RAW_APPS:
        return await RAW_APPS[scope["path"]](scope, receive, send)
    if scope["type"] != "websocket" or scope.get("path") not in APPS:
        return await test_application(scope, receive, send)
    handler = APPS[scope["path"]]
    ws = WebSocket(scope, receive, send, tracker=lifecycle.registry)
    await lifecycle.run(ws, lambda: handler(ws), handler=handler.__name__)
