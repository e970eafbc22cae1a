"""ASGI type aliases, the websocket event shapes wsapp sends and receives, and the names of the
ASGI extensions ``manage.py serve`` declares: protocol-level pings, and HTTP denial responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal, NotRequired, TypedDict

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The scope extension a server declares when it offers protocol pings:
#: ``scope["extensions"]["wsapp.ping"] == {}`` (``manage.py serve`` does; Daphne and uvicorn don't).
PING_EXTENSION = "wsapp.ping"
#: The application sends ``{"type": PING_EVENT, "bytes": payload}`` (at most 125 bytes) to ping...
PING_EVENT = "wsapp.ping"
#: ... and receives ``{"type": PONG_EVENT, "bytes": payload}`` when the client's pong arrives.
PONG_EVENT = "wsapp.pong"

#: ASGI's WebSocket Denial Response extension: a server that declares it
#: (``scope["extensions"]["websocket.http.response"] == {}``) takes an HTTP response instead of
#: the handshake: one ``DENIAL_START`` event, then ``DENIAL_BODY`` events until ``more_body`` is
#: false. ``manage.py serve`` and the test client declare it; plain Daphne does not.
DENIAL_EXTENSION = "websocket.http.response"
DENIAL_START = "websocket.http.response.start"
DENIAL_BODY = "websocket.http.response.body"

#: A server that declares ``scope["extensions"]["wsapp.disconnect"] == {"event": probe}`` lets
#: the application ask, without receiving, whether the client has gone: ``probe()`` returns the
#: ``websocket.disconnect`` event once the connection is closed, else ``None``. ``manage.py
#: serve`` declares it; the connection asks only while a frame it read ahead is unread.
DISCONNECT_EXTENSION = "wsapp.disconnect"

#: A server that declares ``scope["extensions"]["wsapp.send"] == {"frame": write}`` takes an
#: accepted socket's ``websocket.send`` events through ``write(event)``, a plain call that writes
#: the frame before it returns, instead of through ``send``: no coroutine, server hop or
#: middleware wrapper per frame once the handshake is done. ``manage.py serve`` declares it.
SEND_EXTENSION = "wsapp.send"


class WebSocketReceiveEvent(TypedDict):
    type: Literal["websocket.receive"]
    text: NotRequired[str | None]
    bytes: NotRequired[bytes | None]


class WebSocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketAcceptEvent(TypedDict):
    type: Literal["websocket.accept"]
    subprotocol: str | None
    headers: list[tuple[bytes, bytes]]


class WebSocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: int
    reason: str


class PingEvent(TypedDict):
    type: Literal["wsapp.ping"]
    bytes: bytes


class PongEvent(TypedDict):
    type: Literal["wsapp.pong"]
    bytes: bytes


class State:
    """A per-connection namespace for whatever a handler wants to keep (``ws.state.x = 1``)."""

    def __setattr__(self, name: str, value: Any) -> None:  # typed as open: any name may be set
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"ws.state has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"State({vars(self)!r})"
