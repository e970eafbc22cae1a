"""``get_asgi_application()``: Django for HTTP, wsapp's stack for websockets, in one call.

websocket → OriginCheck → TokenAuthMiddleware (signed token → scope["user"])
          → SessionAuthStack (channels' AuthMiddlewareStack: session → scope["user"]) → Router
"""

from __future__ import annotations

from typing import Any

from wsapp.types import ASGIApp


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
    from wsapp.auth import SessionAuthStack, TokenAuthMiddleware
    from wsapp.origin import OriginCheck
    from wsapp.routing import Router

    # Origin first: a foreign page is refused before any credential is even looked at.
    return OriginCheck(TokenAuthMiddleware(SessionAuthStack(router or Router())))
