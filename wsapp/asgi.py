"""``get_asgi_application()``: Django for HTTP, wsapp's stack for websockets, in one call.

websocket → OriginCheck → TokenAuthMiddleware (signed token → scope["user"])
          → SessionAuthStack (channels' AuthMiddlewareStack: session → scope["user"]) → Router

Each middleware's coroutine frame, and the scope copy it passes on, waits as long as its
connection: for the default stack six frames and four copies, ~3 KB of every idle socket
(``python -m bench.memory``). :class:`WebSocketStack` runs the same steps, in the same order,
in one frame for the common websocket (no token); the rest takes the layered stack.
"""

from __future__ import annotations

from typing import Any

from wsapp.types import ASGIApp, Receive, Scope, Send


def get_asgi_application(*, http: ASGIApp | None = None) -> Any:
    """The project's ASGI application.

    Args:
        http: the HTTP app; Django's own by default.
    """
    from django.core.asgi import get_asgi_application as django_asgi_app

    http_app = http or django_asgi_app()  # sets Django up before anything imports models
    from channels.routing import ProtocolTypeRouter

    return ProtocolTypeRouter({"http": http_app, "websocket": websocket_application()})


def websocket_application(router: ASGIApp | None = None) -> ASGIApp:
    """The websocket half of the stack, around ``router`` (the project's table by default)."""
    from wsapp.routing import Router

    return WebSocketStack(router or Router())


class WebSocketStack:
    """``OriginCheck(TokenAuthMiddleware(SessionAuthStack(router)))``, in one frame when it can.

    A websocket with headers and no wsapp token gets, in this frame: the origin check, cookies,
    session and user on one copy of the scope (:func:`wsapp.auth.session_scope`), then the route
    (:meth:`wsapp.routing.Router.route`, whose call is awaited here). A token, another scope
    type, a scope without headers or a router that is not a :class:`~wsapp.routing.Router` goes
    through the layered stack, ``layered``.
    """

    def __init__(self, router: ASGIApp) -> None:
        # Deferred: the auth middleware needs a ready app registry (get_asgi_application above).
        from wsapp.auth import SessionAuthStack, TokenAuthMiddleware, carries_token, session_scope
        from wsapp.origin import OriginCheck
        from wsapp.routing import Router

        # Origin first: a foreign page is refused before any credential is even looked at.
        self.layered = OriginCheck(TokenAuthMiddleware(SessionAuthStack(router)))
        self.router = router if isinstance(router, Router) else None
        self.carries_token = carries_token
        self.session_scope = session_scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if (
            self.router is None
            or scope["type"] != "websocket"
            or "headers" not in scope
            or self.carries_token(scope)
        ):
            return await self.layered(scope, receive, send)
        if await self.layered.refused(scope, send):  # the origin check: the outermost layer
            return None
        routed = await self.session_scope(scope, receive, send)
        if routed is None:
            return None
        call = await self.router.route(routed, receive, send)
        del scope, routed  # the route holds its own copy; this frame waits as long as it does
        if call is not None:
            await call
        return None
