"""In-process websocket clients for tests: an async one, and a synchronous one built on it."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from wsapp import jsoncodec
from wsapp.codes import CloseCode
from wsapp.connection import WebSocketState
from wsapp.exceptions import WebSocketDisconnect
from wsapp.testing.rejection import HandshakeRejected, read_denial
from wsapp.types import DENIAL_EXTENSION, DENIAL_START, ASGIApp, Message

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0


def _default_app() -> ASGIApp:
    # Deferred: the project's stack is built from its settings, which a test may override
    # after importing this module; building it at import would freeze the first settings.
    from wsapp.asgi import websocket_application

    return websocket_application()


class AsyncWebSocketSession:
    """One connection from the test to the application, driven by ``await`` calls."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], timeout: float) -> None:
        self.app = app
        self.scope = scope
        self.timeout = timeout
        self.subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        #: As the connection's ``client_state``: CONNECTING until the application answers the
        #: handshake, CONNECTED once it accepted, DISCONNECTED once either side closed.
        self.client_state = WebSocketState.CONNECTING
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._peeked: collections.deque[Message] = collections.deque()
        self._app_error_seen = False  # re-raised once to the test, not again on close

    async def connect(self) -> AsyncWebSocketSession:
        """Run the handshake.

        Raises:
            HandshakeRejected: the application refused it, with the HTTP response a client gets.
        """
        self._task = asyncio.ensure_future(
            self.app(self.scope, self._to_app.get, self._from_app.put)
        )
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next()
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", CloseCode.NORMAL_CLOSURE)
            self.close_reason = message.get("reason") or ""
            self.client_state = WebSocketState.DISCONNECTED
            await self._finish()
            raise HandshakeRejected(self.close_code, self.close_reason)
        if message["type"] == DENIAL_START:
            rejected = await read_denial(message, self._next)
            self.close_code, self.close_reason = rejected.code, rejected.reason
            self.client_state = WebSocketState.DISCONNECTED
            await self._finish()
            raise rejected
        if message["type"] != "websocket.accept":
            raise RuntimeError(f'Expected "websocket.accept", but got {message["type"]!r}')
        self.subprotocol = message.get("subprotocol")
        self.accept_headers = list(message.get("headers") or [])
        self.client_state = WebSocketState.CONNECTED
        return self

    async def __aenter__(self) -> AsyncWebSocketSession:
        return self if self._task else await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send_text(self, data: str) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self._to_app.put({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        text = jsoncodec.dumps(data)
        await (self.send_text(text) if mode == "text" else self.send_bytes(text.encode()))

    async def receive(self, timeout: float | None = None) -> Message:
        """The next ``websocket.send`` event.

        Raises:
            WebSocketDisconnect: the application closed the connection (code and reason set).
            TimeoutError: nothing within ``timeout`` (default: the client's).
        """
        if self.close_code is not None:
            raise WebSocketDisconnect(self.close_code, self.close_reason or "")
        message = await self._next(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", CloseCode.NORMAL_CLOSURE)
            self.close_reason = message.get("reason") or ""
            self.client_state = WebSocketState.DISCONNECTED
            await self._to_app.put({"type": "websocket.disconnect", "code": self.close_code})
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        return message

    async def receive_text(self, timeout: float | None = None) -> str:
        message = await self.receive(timeout)
        if message.get("text") is None:
            raise AssertionError(f"Expected a text frame, got {message!r}")
        return message["text"]  # type: ignore[no-any-return]

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        message = await self.receive(timeout)
        if message.get("bytes") is None:
            raise AssertionError(f"Expected a binary frame, got {message!r}")
        return message["bytes"]  # type: ignore[no-any-return]

    async def receive_json(
        self,
        mode: Literal["text", "binary"] = "text",
        loads: Callable[[str | bytes], Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The next frame decoded as JSON: the arguments of ``WebSocket.receive_json``.

        Raises:
            TypeError: ``mode`` is a number: the session's first argument was once ``timeout``,
                so ``receive_json(2)`` must not quietly read as a mode; pass ``timeout=2``.
            ValueError: ``mode`` is neither ``"text"`` nor ``"binary"``.
        """
        if isinstance(mode, int | float):
            raise TypeError(
                f"receive_json()'s first argument is the mode, as WebSocket.receive_json's; "
                f"for a timeout pass timeout={mode!r}."
            )
        if mode not in ("text", "binary"):
            raise ValueError(f'mode must be "text" or "binary", not {mode!r}')
        raw = await (self.receive_text(timeout) if mode == "text" else self.receive_bytes(timeout))
        return (loads or jsoncodec.loads)(raw)

    async def receive_nothing(self, timeout: float = 0.1) -> bool:
        """Whether the application stays silent for ``timeout`` seconds."""
        if self._peeked:
            return False
        try:
            message = await asyncio.wait_for(self._from_app.get(), timeout)
        except TimeoutError:
            return True
        self._peeked.append(message)  # not lost: the next receive() returns it
        return False

    async def wait_closed(self, timeout: float | None = None) -> tuple[int, str]:
        """Read until the application closes; return its ``(code, reason)``."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await self.receive(timeout)
        assert self.close_code is not None
        return self.close_code, self.close_reason or ""

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Disconnect from the client side and let the application finish."""
        self.client_state = WebSocketState.DISCONNECTED
        if self._task is None or self._task.done():
            await self._finish()
            return
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            await self._to_app.put({"type": "websocket.disconnect", "code": code, "reason": reason})
        await self._finish()

    async def _next(self, timeout: float | None = None) -> Message:
        assert self._task is not None
        if self._peeked:
            return self._peeked.popleft()
        getter = asyncio.ensure_future(self._from_app.get())
        done, _ = await asyncio.wait(
            {getter, self._task},
            timeout=timeout or self.timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self._task in done:
            self._app_error_seen = True
            self._task.result()  # re-raise what the application raised
            raise RuntimeError("The application returned without closing the connection.")
        raise TimeoutError("The application sent nothing in time.")

    async def _finish(self) -> None:
        if self._task is None or (self._task.done() and self._app_error_seen):
            return
        try:
            await asyncio.wait_for(self._task, self.timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            raise


class AsyncWebSocketClient:
    """Opens in-process connections to an ASGI app (the project's websocket stack by default)."""

    def __init__(self, app: ASGIApp | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.app = app or _default_app()
        self.timeout = timeout

    def websocket_connect(
        self,
        path: str,
        *,
        subprotocols: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        user: Any = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        extensions: Mapping[str, Any] | None = None,
    ) -> AsyncWebSocketSession:
        """A session for ``path`` (query string allowed); ``async with`` it, or ``await .connect()``.

        ``extensions`` is the scope's: by default the denial-response extension, as ``manage.py
        serve`` declares it (``{}``: a server without it, such as plain Daphne).
        """
        parts = urlsplit(path)
        raw_headers = [(b"host", b"testserver")]
        raw_headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        protocols = list(subprotocols)
        if protocols:
            raw_headers.append((b"sec-websocket-protocol", ", ".join(protocols).encode()))
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": "ws",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "root_path": "",
            "query_string": parts.query.encode(),
            "headers": raw_headers,
            "client": list(client),
            "server": ["testserver", 80],
            "subprotocols": protocols,
            "extensions": {DENIAL_EXTENSION: {}} if extensions is None else dict(extensions),
        }
        if user is not None:
            scope["user"] = user
        return AsyncWebSocketSession(self.app, scope, self.timeout)


class _LoopThread:
    """An event loop on a daemon thread, so synchronous tests can drive async sessions."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="wsapp-test-loop", daemon=True
        )
        self.thread.start()

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def runner() -> T:
            return await make()

        future: Future[T] = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        return future.result()

    def stop(self) -> None:
        # Deferred: the hub pulls in the channel layer and Django's app registry, which a
        # project that uses only the sync client's plain handlers never needs to load.
        from wsapp.hub.hub import stop_hub

        with contextlib.suppress(Exception):
            self.call(stop_hub)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class WebSocketTestSession:
    """The synchronous twin of :class:`AsyncWebSocketSession`; same methods, no ``await``."""

    def __init__(self, session: AsyncWebSocketSession, runner: _LoopThread) -> None:
        self._session = session
        self._runner = runner

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._session, name)
        if not callable(attr) or not asyncio.iscoroutinefunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.call(lambda: attr(*args, **kwargs))

        return call

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        self._runner.call(lambda: self._session.close(code, reason))


class WebSocketTestClient:
    """A synchronous client in the spirit of Starlette's ``TestClient``.

    All its sessions share one event loop on a background thread, so sessions of one client can
    talk to each other through the in-memory channel layer. ``websocket_connect()`` raises
    :class:`HandshakeRejected` when the application refuses the handshake; otherwise it returns
    a session to use as a context manager. Close the client (or use it as a context manager) to
    stop its loop.
    """

    def __init__(self, app: ASGIApp | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._client = AsyncWebSocketClient(app, timeout=timeout)
        self._runner: _LoopThread | None = None

    def websocket_connect(self, path: str, **options: Any) -> WebSocketTestSession:
        if self._runner is None:
            self._runner = _LoopThread()
        session = self._client.websocket_connect(path, **options)
        self._runner.call(session.connect)
        return WebSocketTestSession(session, self._runner)

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the client's loop (e.g. ``wsapp.rooms.abroadcast``)."""
        if self._runner is None:
            self._runner = _LoopThread()
        return self._runner.call(make)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def __enter__(self) -> WebSocketTestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def connect(self, path: str, **options: Any) -> Iterator[WebSocketTestSession]:
        with self.websocket_connect(path, **options) as session:
            yield session
