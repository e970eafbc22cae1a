"""Starlette's documented WebSocket examples (and FastAPI's, which Starlette users copy), ported.

Originals: encode/starlette ``docs/websockets.md`` and ``docs/endpoints.md``; fastapi/fastapi
``docs_src/websockets_/tutorial002_an_py310.py`` and ``tutorial003_py310.py``. Each port keeps
the original's behaviour; docs/migrating.md shows them side by side. Routed under
``/starlette/`` by :mod:`tests.migration.routing`.
"""

from __future__ import annotations

from wsapp import Consumer, WebSocket, rooms
from wsapp.codes import CloseCode
from wsapp.exceptions import UnsupportedData
from wsapp.routing import path

FASTAPI_CHAT = "fastapi-chat"


async def hello(ws: WebSocket) -> None:
    """docs/websockets.md, "WebSocket": accept, one text frame, close."""
    await ws.accept()
    await ws.send_text("Hello, world!")
    await ws.close()


async def iterate(ws: WebSocket) -> None:
    """docs/websockets.md, "Iterating data": ``iter_text()`` ends when the client leaves."""
    await ws.accept()
    async for message in ws.iter_text():
        await ws.send_text(f"Message text was: {message}")
    await ws.close()


async def username(ws: WebSocket) -> None:
    """docs/websockets.md, "Path Parameters": a handler that takes only the socket reads
    ``ws.path_params`` (Starlette never passes them as arguments)."""
    await ws.accept()
    await ws.send_text(f"Hello, {ws.path_params['username']}")
    await ws.close()


class BytesApp(Consumer):
    """docs/endpoints.md, ``WebSocketEndpoint`` with ``encoding = 'bytes'``: a text frame is
    refused with 1003, as Starlette's endpoint refuses the wrong encoding."""

    async def on_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(b"Message: " + data)

    async def on_text(self, text: str) -> None:
        raise UnsupportedData("Expected bytes websocket messages, but got str.")


class Echo(Consumer):
    """docs/endpoints.md, the ``Echo`` endpoint with ``encoding = "text"``."""

    async def on_text(self, text: str) -> None:
        await self.ws.send_text(f"Message text was: {text}")

    async def on_bytes(self, data: bytes) -> None:
        raise UnsupportedData("Expected text websocket messages, but got bytes.")


def is_authorized(subprotocols: list[str]) -> bool:
    """docs/websockets.md, "Send Denial Response": a token in the offered subprotocols."""
    return subprotocols == ["Authorization", "token"]


async def denial(ws: WebSocket) -> None:
    """docs/websockets.md, "Send Denial Response": ``HTTPException(401)`` before accept is
    ``ws.deny(401, ...)``; a real client reads the status and the body."""
    if not is_authorized(ws.requested_subprotocols):
        await ws.deny(401, "Unauthorized")
        return
    await ws.accept("Authorization")
    await ws.send_text("Hello, world!")
    await ws.close()


async def items(ws: WebSocket, item_id: str) -> None:
    """FastAPI tutorial002: a ``session`` cookie or a ``?token=`` of the project's own, else
    1008 before accept (a refused handshake, 403); ``q`` must be an integer."""
    cookie_or_token = ws.cookies.get("session") or ws.query_params.get("token")
    raw_q = ws.query_params.get("q")
    if cookie_or_token is None or (raw_q is not None and not raw_q.lstrip("-").isdigit()):
        await ws.close(CloseCode.POLICY_VIOLATION)
        return
    await ws.accept()
    async for data in ws.iter_text():
        await ws.send_text(f"Session cookie or query token value is: {cookie_or_token}")
        if raw_q is not None:
            await ws.send_text(f"Query parameter q is: {int(raw_q)}")
        await ws.send_text(f"Message text was: {data}, for item ID: {item_id}")


async def chat(ws: WebSocket, client_id: int) -> None:
    """FastAPI tutorial003's ``ConnectionManager`` chat: the manager's list of sockets is a
    room, ``send_personal_message`` a send on the socket, ``broadcast`` a raw room broadcast
    (one text frame to every member, on every process)."""
    await ws.accept()
    async with rooms.joined(ws, FASTAPI_CHAT):
        async for data in ws.iter_text():
            await ws.send_text(f"You wrote: {data}")
            await rooms.abroadcast_raw(FASTAPI_CHAT, f"Client #{client_id} says: {data}")
    await rooms.abroadcast_raw(FASTAPI_CHAT, f"Client #{client_id} left the chat")


urlpatterns = [
    path("hello/", hello),
    path("iterate/", iterate),
    path("users/<str:username>/", username),
    path("bytes/", BytesApp),
    path("echo/", Echo),
    path("denial/", denial),
    path("items/<str:item_id>/ws/", items),
    path("chat/<int:client_id>/", chat),
]
