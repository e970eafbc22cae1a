"""``wsapp.asgi.WebSocketStack``: the default websocket stack in one coroutine frame, with the
scope, user and refusals the layered stack gives."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.test import override_settings

from tests.support.timing import scaled
from wsapp.asgi import WebSocketStack, websocket_application
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected
from wsapp.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # sessions and tokens read the database

# The scope keys whose values are compared as they are; the lazy objects by what they hold.
PLAIN_KEYS = ("type", "path", "query_string", "headers", "subprotocols", "cookies", "url_route")


def recorder(seen: list[dict[str, Any]]) -> Any:
    async def handler(ws: WebSocket, room: str) -> None:
        scope = ws.scope
        seen.append(
            {
                "keys": sorted(scope),
                **{key: scope.get(key) for key in PLAIN_KEYS},
                "user": str(scope["user"]),
                "session_key": scope["session"].session_key,
                "frames": coroutine_chain(),
            }
        )
        await ws.accept()
        await ws.send_text(str(scope["user"]))

    return handler


def coroutine_chain() -> list[str]:
    """The qualnames of the frames the handler runs in, outermost first."""
    names, frame = [], sys._getframe(1)
    while frame is not None:
        names.append(frame.f_code.co_qualname)
        frame = frame.f_back
    return names[::-1]


async def connect(app: Any, url: str, headers: dict[str, str]) -> Any:
    client = AsyncWebSocketClient(app, timeout=scaled(2))
    try:
        async with client.websocket_connect(url, headers=headers) as ws:
            return await ws.receive_text()
    except HandshakeRejected as exc:
        return (exc.code, exc.reason)


def stacks(seen: list[dict[str, Any]]) -> tuple[WebSocketStack, Any]:
    app = websocket_application(Router([path("ws/<str:room>/", recorder(seen))]))
    assert isinstance(app, WebSocketStack)
    return app, app.layered


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "session"])
async def test_one_frame_gives_the_handler_the_layered_stacks_scope(
    signed_in: bool, session_cookie: str
) -> None:
    seen: list[dict[str, Any]] = []
    one_frame, layered = stacks(seen)
    headers = {"origin": "http://testserver", "cookie": session_cookie if signed_in else "a=b"}
    replies = [await connect(app, "/ws/lobby/?x=1", headers) for app in (one_frame, layered)]
    assert replies[0] == replies[1] == ("alice" if signed_in else "AnonymousUser")
    fast, slow = seen
    assert {k: v for k, v in fast.items() if k != "frames"} == {
        k: v for k, v in slow.items() if k != "frames"
    }
    assert fast["url_route"] == {"args": (), "kwargs": {"room": "lobby"}, "name": None}
    # The one frame stands for the six layers' frames (and their scope copies).
    assert from_app(fast["frames"], "WebSocketStack.__call__")[:2] == [
        "WebSocketStack.__call__",
        "Endpoint.__call__",
    ]
    assert from_app(slow["frames"], "OriginCheck.__call__")[:7] == [
        "OriginCheck.__call__",
        "TokenAuthMiddleware.__call__",
        "CookieMiddleware.__call__",
        "WebSocketSessionMiddleware.__call__",
        "SessionAuthMiddleware.__call__",
        "Router.__call__",
        "Endpoint.__call__",
    ]


def from_app(frames: list[str], first: str) -> list[str]:
    """The chain from the app's own frame on (the test client's frames come before it)."""
    return frames[frames.index(first) :]


async def test_a_token_goes_through_the_layered_stack_and_wins(
    user: Any, session_cookie: str
) -> None:
    seen: list[dict[str, Any]] = []
    app, _ = stacks(seen)
    token = make_token(user)
    reply = await connect(app, f"/ws/lobby/?token={token}", {"cookie": session_cookie})
    assert reply == "alice"
    assert "OriginCheck.__call__" in seen[0]["frames"]


@override_settings(ALLOWED_HOSTS=["example.com"], WSAPP={})
async def test_a_foreign_origin_is_refused_before_the_session_is_read() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = stacks(seen)
    reply = await connect(app, "/ws/lobby/", {"origin": "https://evil.example"})
    assert reply == (CloseCode.NORMAL_CLOSURE, "")
    assert seen == []


async def test_an_unknown_path_is_refused_at_the_handshake() -> None:
    seen: list[dict[str, Any]] = []
    app, _ = stacks(seen)
    assert await connect(app, "/ws/", {}) == (CloseCode.NORMAL_CLOSURE, "")
    assert seen == []
