"""Quart's documented WebSocket examples, ported.

Originals: pallets/quart ``docs/how_to_guides/websockets.rst`` (echo, manual rejection, sending
and receiving independently, detecting disconnection, closing, testing),
``docs/discussion/websockets_discussion.rst`` (``login_required`` with ``abort(401)``) and
``examples/chat`` (the ``Broker`` of queues). Routed under ``/quart/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tests.migration.common import EVENTS, basic_credentials
from wsapp import WebSocket, WebSocketDisconnect, rooms
from wsapp.codes import CloseCode
from wsapp.routing import path

USERNAME, PASSWORD = "quart", "s3cret"
QUART_CHAT = "quart-chat"


async def echo(ws: WebSocket) -> None:
    """The first example. Quart accepts on the first ``receive``/``send``; wsapp asks for an
    explicit ``accept()``, so that nothing is accepted by accident before the checks ran."""
    await ws.accept()
    async for data in ws:
        await ws.send(data)


async def manual_reject(ws: WebSocket) -> None:
    """ "Manually rejecting or accepting websockets": ``return 'Invalid password', 403``."""
    if basic_credentials(ws.headers.get("authorization")) != (USERNAME, PASSWORD):
        await ws.deny(403, "Invalid password")
        return
    await ws.accept()
    await ws.send_text(f"Hello, {USERNAME}")


def login_required(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """The discussion's decorator: ``abort(401)`` before the upgrade is ``ws.deny(401)``."""

    @functools.wraps(handler)
    async def wrapper(ws: WebSocket, *args: Any, **kwargs: Any) -> None:
        if basic_credentials(ws.headers.get("authorization")) is None:
            await ws.deny(401)
            return
        await handler(ws, *args, **kwargs)

    return wrapper


@login_required
async def protected(ws: WebSocket) -> None:
    await ws.accept()
    async for data in ws.iter_text():
        await ws.send_text(data)


async def independent(ws: WebSocket) -> None:
    """ "Sending and receiving independently": two tasks. Quart cancels both when the client
    leaves; here the handler receives, and cancels its sender once the receiving ends."""
    await ws.accept()
    inbox: asyncio.Queue[str] = asyncio.Queue()

    async def sending() -> None:
        while True:
            await ws.send_text((await inbox.get()).upper())

    producer = asyncio.create_task(sending())
    try:
        async for data in ws.iter_text():
            await inbox.put(data)
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer


async def detect_disconnect(ws: WebSocket) -> None:
    """ "Detecting disconnection": Quart raises ``CancelledError`` (to be re-raised); wsapp's
    receive raises ``WebSocketDisconnect`` with the client's close code (nothing to re-raise)."""
    await ws.accept()
    try:
        while True:
            data = await ws.receive_text()
            await ws.send_text(data)
    except WebSocketDisconnect as exc:
        EVENTS[f"quart.disconnect.{exc.code}"] += 1


async def close_after_accept(ws: WebSocket) -> None:
    """ "Closing the connection": accept, then ``close(1000)``."""
    await ws.accept()
    await ws.close(CloseCode.NORMAL_CLOSURE)


async def close_before_accept(ws: WebSocket) -> None:
    """ "...if the websocket is closed before it is accepted the server will respond with a 403"."""
    await ws.close()


class Broker:
    """The shape of examples/chat/src/chat/broker.py: a queue per subscriber, in one process."""

    def __init__(self) -> None:
        self.connections: set[asyncio.Queue[str | bytes]] = set()

    async def publish(self, message: str | bytes) -> None:
        for connection in self.connections:
            await connection.put(message)

    async def subscribe(self) -> AsyncIterator[str | bytes]:
        connection: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.connections.add(connection)
        try:
            while True:
                yield await connection.get()
        finally:
            self.connections.remove(connection)


broker = Broker()


async def broker_chat(ws: WebSocket) -> None:
    """examples/chat's ``/ws``, with the roles of its two loops swapped: the handler receives
    (its loop ends when the client leaves) and the subscriber task is cancelled then."""
    await ws.accept()

    async def forward() -> None:
        async for message in broker.subscribe():
            await ws.send(message)

    sender = asyncio.create_task(forward())
    # One turn of the loop runs the task up to its first ``get()``: its queue is subscribed.
    await asyncio.sleep(0)
    await ws.send_text("subscribed")
    try:
        async for message in ws:
            await broker.publish(message)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


async def room_chat(ws: WebSocket) -> None:
    """The same chat on every process: the broker is a room, ``publish`` a raw broadcast."""
    await ws.accept()
    async with rooms.joined(ws, QUART_CHAT):
        await ws.send_text("subscribed")
        async for message in ws:
            await rooms.abroadcast_raw(QUART_CHAT, message)


urlpatterns = [
    path("ws/", echo),
    path("reject/", manual_reject),
    path("protected/", protected),
    path("independent/", independent),
    path("disconnect/", detect_disconnect),
    path("close/", close_after_accept),
    path("close-before-accept/", close_before_accept),
    path("chat/", broker_chat),
    path("room-chat/", room_chat),
]
