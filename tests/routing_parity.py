"""Handlers as a user porting from Starlette, Sanic, Quart, BlackSheep or ``websockets`` writes
them: each framework's usual shape, with wsapp's names. Served in-process by
``tests/wsapp/test_parity_conn.py`` and under ``manage.py serve`` by
``tests/e2e/test_parity_conn.py`` (``WSAPP["ROUTING"] = "tests.routing_parity"``).

Every idiom catches what its framework's code catches — ``ValueError`` for bad JSON,
``TypeError`` for the wrong frame type, ``RuntimeError`` for the wrong state — answers with an
error frame and reads on.
"""

from __future__ import annotations

import json
from typing import Any

from wsapp import Consumer, WebSocket, event
from wsapp.exceptions import WebSocketDisconnect
from wsapp.routing import path, re_path


async def starlette_json(websocket: WebSocket) -> None:
    """Starlette's shape: ``receive_json()`` in a loop, a ``ValueError`` answered."""
    await websocket.accept()
    while True:
        try:
            data = await websocket.receive_json()
        except ValueError as exc:
            await websocket.send_json({"error": "invalid json", "detail": type(exc).__name__})
            continue
        except WebSocketDisconnect:
            break
        await websocket.send_json({"echo": data})


async def sanic_text(ws: WebSocket) -> None:
    """Sanic's shape (``async def feed(request, ws)``, ``ws.recv()``): a text protocol that
    answers a binary frame with a ``TypeError`` caught."""
    await ws.accept()
    while True:
        try:
            text = await ws.receive_text()
        except TypeError:
            await ws.send("text frames only")
            continue
        await ws.send(f"got {text}")


async def quart_json(ws: WebSocket) -> None:
    """Quart's shape: one ``except (TypeError, ValueError)`` for any frame it cannot use."""
    await ws.accept()
    while True:
        try:
            data = await ws.receive_json()
        except (TypeError, ValueError) as exc:
            caught = "TypeError" if isinstance(exc, TypeError) else "ValueError"
            await ws.send_json({"error": caught})
            continue
        await ws.send_json({"echo": data})


async def blacksheep_binary_json(ws: WebSocket) -> None:
    """BlackSheep's shape (``receive_json(mode=MessageMode.BYTES)``): JSON in binary frames, a
    ``ValueError`` answered; a text frame is not caught, so it closes with 1003."""
    await ws.accept()
    while True:
        try:
            data = await ws.receive_json(mode="binary")
        except ValueError:
            await ws.send_bytes(b'{"error": "invalid json"}')
            continue
        await ws.send_json({"echo": data}, mode="binary")


async def websockets_handler(websocket: WebSocket) -> None:
    """``websockets``' shape: ``recv()`` (here ``receive_data()``: str or bytes), decoded by the
    handler; one ``except ValueError`` answers bad JSON and a text frame that is not UTF-8."""
    await websocket.accept()
    while True:
        try:
            event = json.loads(await websocket.receive_data())
        except ValueError as exc:
            await websocket.send(json.dumps({"type": "error", "message": type(exc).__name__}))
            continue
        await websocket.send(json.dumps({"type": "echo", "event": event}))


async def starlette_state(websocket: WebSocket) -> None:
    """A ``RuntimeError`` caught: reading before ``accept()`` is the wrong state."""
    try:
        await websocket.receive_text()
    except RuntimeError as exc:
        await websocket.accept()
        await websocket.send_json({"error": type(exc).__name__, "open": websocket.open})
    async for text in websocket.iter_text():
        await websocket.send_text(text)


async def uncaught_json(ws: WebSocket) -> None:
    """A handler that catches nothing: a bad frame still closes with its code."""
    await ws.accept()
    while True:
        await ws.send_json({"echo": await ws.receive_json()})


async def endpoint(ws: WebSocket) -> None:
    """Starlette's ``async def endpoint(websocket)`` on a parameterised route."""
    await ws.accept()
    await ws.send_json({"path_params": ws.path_params})


async def names_one(ws: WebSocket, room: str) -> None:
    """Takes one of the route's two parameters by name: the other is in ``ws.path_params``."""
    await ws.accept()
    await ws.send_json({"room": room, "path_params": ws.path_params})


async def takes_all(ws: WebSocket, *args: Any, **params: Any) -> None:
    await ws.accept()
    await ws.send_json({"args": list(args), "params": params})


async def plain_echo(ws: WebSocket) -> None:
    """A plain-text protocol: over the rate limit it must never see a JSON error frame."""
    await ws.accept()
    async for message in ws:
        await ws.send(message)


async def noticed_echo(ws: WebSocket) -> None:
    """A plain handler that names its own notice for a dropped message (the documented hook)."""
    ws.limits.drop_notice = "slow down"
    await plain_echo(ws)


class JsonEcho(Consumer):
    @event("echo")
    async def echo(self, content: dict[str, Any]) -> None:
        await self.send_json(content)


class BinaryJsonEcho(JsonEcho):
    json_mode = "binary"


urlpatterns = [
    path("parity/starlette/", starlette_json),
    path("parity/sanic/", sanic_text),
    path("parity/quart/", quart_json),
    path("parity/blacksheep/", blacksheep_binary_json),
    path("parity/websockets/", websockets_handler),
    path("parity/state/", starlette_state),
    path("parity/uncaught/", uncaught_json),
    path("parity/endpoint/<slug:room>/<int:n>/", endpoint),
    path("parity/names-one/<slug:room>/<int:n>/", names_one),
    path("parity/takes-all/<slug:room>/", takes_all, kwargs={"flavour": "vanilla"}),
    re_path(r"^parity/positional/([0-9]+)/$", endpoint),
    re_path(r"^parity/positional-all/([0-9]+)/$", takes_all),
    path("parity/plain/", plain_echo),
    path("parity/noticed/", noticed_echo),
    path("parity/json/", JsonEcho),
    path("parity/binary-json/", BinaryJsonEcho),
]
