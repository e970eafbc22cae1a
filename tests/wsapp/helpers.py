"""Small harnesses for the wsapp unit tests: one route's app, a fake server to drive by hand, a
fake clock, a stand-in socket for the hub's indexes, and a fake of the rooms API's live calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tests.support.timing import scaled
from wsapp import lifecycle
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, AsyncWebSocketSession
from wsapp.types import Message, Receive, Scope, Send

#: Seconds (scaled) a session waits for a frame or a close before the test fails.
TIMEOUT = scaled(2.0)
Handler = Callable[..., Awaitable[None]]


def route(
    handler: Any, pattern: str = "ws/", *, subprotocols: Iterable[str] = (), **options: Any
) -> Router:
    """A router with the one route ``pattern`` → ``handler``."""
    return Router([path(pattern, handler, subprotocols=list(subprotocols), **options)])


def connect(handler: Any, url: str = "/ws/", **options: Any) -> AsyncWebSocketSession:
    """A session to ``handler`` behind a one-route router (so DESIGN.md's close policy applies)."""
    return AsyncWebSocketClient(route(handler), timeout=TIMEOUT).websocket_connect(url, **options)


def raw_app(handler: Callable[[WebSocket], Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """An ASGI app that builds the ``WebSocket`` itself: no router, no policy, errors propagate.
    The socket is handed the process's registry, as a route's is (counted, listed, observed)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await handler(WebSocket(scope, receive, send, tracker=lifecycle.registry))

    return app


def raw_connect(handler: Handler, url: str = "/ws/", **options: Any) -> AsyncWebSocketSession:
    return AsyncWebSocketClient(raw_app(handler), timeout=TIMEOUT).websocket_connect(url, **options)


def websocket_scope(url_path: str = "/ws/", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": url_path,
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
        "client": ["127.0.0.1", 50000],
    }
    scope.update(extra)
    return scope


class FakeServer:
    """The server side of one connection, scripted by the test: it feeds ``inbox`` and reads ``sent``."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: list[Message] = []
        self.on_send: Callable[[Message], None] | None = None

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if self.on_send is not None:
            self.on_send(message)

    def feed(self, *messages: Message) -> None:
        for message in messages:
            self.inbox.put_nowait(message)

    def socket(self, scope: dict[str, Any] | None = None, **options: Any) -> WebSocket:
        """A socket on this server, handed the process's registry as a route's socket is
        (``tracker=None`` for one that no registry knows)."""
        options.setdefault("tracker", lifecycle.registry)
        return WebSocket(scope or websocket_scope(), self.receive, self.send, **options)

    async def accepted_socket(
        self, scope: dict[str, Any] | None = None, **options: Any
    ) -> WebSocket:
        ws = self.socket(scope, **options)
        self.feed({"type": "websocket.connect"})
        await ws.accept()
        return ws

    @property
    def sent_types(self) -> list[str]:
        return [message["type"] for message in self.sent]


class FakeClock:
    """Stands in for a module's ``time``: wall-clock seconds the test moves by hand."""

    START = 1_800_000_000.0  # a whole number of hours: no window boundary hides in the test

    def __init__(self) -> None:
        self.now = self.START

    def time(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = self.START + seconds

    @classmethod
    def install(cls, monkeypatch: Any, module: Any) -> FakeClock:
        """A clock that ``module.time.time()`` reads, until the test ends."""
        clock = cls()
        monkeypatch.setattr(module, "time", clock)
        return clock


class StandInSocket:
    """Stands in for a WebSocket where the hub only keeps it in its indexes (by ``id``)."""

    def __init__(self, id: str) -> None:
        self.id = id


class FakeRooms:
    """Stands in for the rooms API's live calls (``wsapp.rooms.api``): records each one, serves
    canned presence, and raises :attr:`error` when a test sets one (Redis down)."""

    LIVE_CALLS = ("broadcast", "online", "close", "kick")

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.present: dict[str, list[str]] = {}
        self.error: Exception | None = None

    @classmethod
    def install(cls, monkeypatch: Any) -> FakeRooms:
        """A fake that ``wsapp.rooms.api``'s live calls go to, until the test ends."""
        from wsapp.rooms import api

        fake = cls()
        for name in cls.LIVE_CALLS:
            monkeypatch.setattr(api, name, getattr(fake, name))
        return fake

    def _record(self, *call: Any) -> None:
        if self.error is not None:
            raise self.error
        self.calls.append(call)

    def broadcast(self, room: str, data: Any, exclude: Any = None) -> None:
        self._record("broadcast", room, data)

    def online(self, room: str) -> list[str]:
        if self.error is not None:
            raise self.error
        return list(self.present.get(room, []))

    def close(self, room: str, code: int = CloseCode.ROOM_CLOSED, reason: str = "") -> None:
        self._record("close", room, code, reason)

    def kick(self, room: str, user: Any, code: int = CloseCode.FORBIDDEN, reason: str = "") -> None:
        self._record("kick", room, user.get_username(), code, reason)
