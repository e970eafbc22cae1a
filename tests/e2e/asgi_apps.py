"""Tiny raw-ASGI websocket apps that test the server itself, independent of the rest of wsapp.

Served under ``/test/...`` by :data:`application`; every other path goes to the demo project's
``config.asgi.application`` (``/ws/echo/`` and friends), so one server process covers both.
Query parameters configure an app (``/test/close/?code=1011&reason=boom``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

from config.asgi import application as demo_application
from wsapp.types import Receive, Scope, Send


def _params(scope: Scope) -> dict[str, str]:
    query = parse_qs(scope.get("query_string", b"").decode())
    return {key: values[-1] for key, values in query.items()}


async def _accept(receive: Receive, send: Send) -> None:
    message = await receive()
    assert message["type"] == "websocket.connect", message
    await send({"type": "websocket.accept"})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Send every frame back exactly as it came, empty ones included."""
    await _accept(receive, send)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send(
            {"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")}
        )


async def close(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, then close with ``?code=`` and ``?reason=``."""
    params = _params(scope)
    await _accept(receive, send)
    await send(
        {"type": "websocket.close", "code": int(params["code"]), "reason": params.get("reason", "")}
    )


async def reject(scope: Scope, receive: Receive, send: Send) -> None:
    """Close before accepting: the handshake is refused with 403."""
    await receive()
    await send({"type": "websocket.close", "code": 4403, "reason": "not you"})


async def empty(scope: Scope, receive: Receive, send: Send) -> None:
    """Send an empty text frame, then an empty binary frame."""
    await _accept(receive, send)
    await send({"type": "websocket.send", "text": ""})
    await send({"type": "websocket.send", "bytes": b""})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def accept_headers(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept with ``?subprotocol=`` (if given) and an ``X-Wsapp: yes`` response header."""
    subprotocol = _params(scope).get("subprotocol")
    await receive()
    await send(
        {"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-wsapp", b"yes")]}
    )
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def both(scope: Scope, receive: Receive, send: Send) -> None:
    """Send a message with both text and bytes: a programming error the server refuses."""
    await _accept(receive, send)
    await send({"type": "websocket.send", "text": "x", "bytes": b"y"})


async def big(scope: Scope, receive: Receive, send: Send) -> None:
    """Send one binary message of ``?size=`` bytes: the size limit is for incoming ones only."""
    await _accept(receive, send)
    await send({"type": "websocket.send", "bytes": b"x" * int(_params(scope)["size"])})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def cleanup(scope: Scope, receive: Receive, send: Send) -> None:
    """Wait for the disconnect; in ``finally:`` take ``?delay=`` s, then write ``?marker=``.

    With ``?ignore=1`` it keeps running after the disconnect (the grace must cancel it); the
    marker then says how it ended.
    """
    params = _params(scope)
    marker = Path(params["marker"])
    ending = "returned"
    await _accept(receive, send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                ending = f"{message['code']} {message.get('reason', '')}"
                break
        if params.get("ignore"):
            await asyncio.sleep(3600)
    except asyncio.CancelledError:
        ending = f"cancelled after {ending}"
        raise
    finally:
        await asyncio.sleep(float(params.get("delay", 0)))
        await asyncio.to_thread(_write_atomically, marker, ending)


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename: a test that sees the file never sees it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


async def ping(scope: Scope, receive: Receive, send: Send) -> None:
    """On text ``PAYLOAD``: a ``wsapp.ping`` with it; on its ``wsapp.pong``: text ``pong:PAYLOAD``.

    The first frame sent is the scope's ``extensions`` as JSON (a callable as its type's name).
    """
    await _accept(receive, send)
    extensions = json.dumps(scope.get("extensions") or {}, default=lambda v: type(v).__name__)
    await send({"type": "websocket.send", "text": extensions})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message["type"] == "wsapp.pong":
            await send({"type": "websocket.send", "text": "pong:" + message["bytes"].decode()})
        else:
            await send({"type": "wsapp.ping", "bytes": message["text"].encode()})


async def flood(scope: Scope, receive: Receive, send: Send) -> None:
    """Send ``?count=`` binary messages of ``?size=`` bytes as fast as the server takes them."""
    params = _params(scope)
    payload = os.urandom(int(params["size"]))  # incompressible, whatever was negotiated
    await _accept(receive, send)
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    for index in range(int(params["count"])):
        if gone.is_set():
            break
        await send({"type": "websocket.send", "bytes": payload})
        if index % 8 == 0:
            await asyncio.sleep(0)
    await watcher


async def burst(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, send ``?count=`` numbered text frames of ``?size=`` bytes without waiting, then
    close with 4409: every write in one go, right behind the handshake response."""
    params = _params(scope)
    await _accept(receive, send)
    size = int(params["size"])
    for index in range(int(params["count"])):
        await send({"type": "websocket.send", "text": f"{index}:".ljust(size, "x")})
    await send({"type": "websocket.close", "code": 4409, "reason": "burst done"})


async def sleepy(scope: Scope, receive: Receive, send: Send) -> None:
    """Read nothing for ``?seconds=``, then count what arrived until text ``done``."""
    await _accept(receive, send)
    await asyncio.sleep(float(_params(scope)["seconds"]))
    count = size = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "done":
            await send({"type": "websocket.send", "text": f"{count} {size}"})
            continue
        count += 1
        size += len(message.get("bytes") or b"")


async def connection_ping(scope: Scope, receive: Receive, send: Send) -> None:
    """``wsapp.WebSocket.ping()`` over the extension; answers ``rtt-ok`` or the error's name."""
    from wsapp.connection import WebSocket
    from wsapp.exceptions import WebSocketDisconnect

    ws = WebSocket(scope, receive, send)
    await ws.accept()
    reader = asyncio.ensure_future(ws.receive_text())  # something must receive for the pong
    try:
        rtt = await ws.ping(b"conn", timeout=5)
        answer = "rtt-ok" if 0 <= rtt < 5 else f"rtt-bad {rtt}"
    except Exception as exc:
        answer = type(exc).__name__
    await ws.send_text(answer)
    try:
        await reader
    except WebSocketDisconnect:
        pass


APPS: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    "/test/echo/": echo,
    "/test/close/": close,
    "/test/reject/": reject,
    "/test/empty/": empty,
    "/test/accept-headers/": accept_headers,
    "/test/both/": both,
    "/test/big/": big,
    "/test/cleanup/": cleanup,
    "/test/ping/": ping,
    "/test/flood/": flood,
    "/test/sleepy/": sleepy,
    "/test/burst/": burst,
    "/test/connection-ping/": connection_ping,
}


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The test apps under ``/test/``; the demo project everywhere else."""
    app = APPS.get(scope.get("path", "")) if scope["type"] == "websocket" else None
    if app is None:
        await demo_application(scope, receive, send)
    else:
        await app(scope, receive, send)
