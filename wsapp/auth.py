"""Who is connecting: Django's session, through channels' own auth middleware.

``SessionAuthMiddleware`` is channels' ``AuthMiddleware`` with one change: a user that an outer
layer has already established (a signed token, the test client) is kept, not overwritten by the
anonymous user of a cookie-less session.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddleware, UserLazyObject, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware

from wsapp.types import ASGIApp, Scope


class SessionAuthMiddleware(AuthMiddleware):  # type: ignore[misc]
    """``scope["user"]`` from the Django session, unless an outer layer set it already."""

    async def resolve_scope(self, scope: Scope) -> None:
        user = scope["user"]
        if isinstance(user, UserLazyObject):
            user._wrapped = await get_user(scope)


def SessionAuthStack(inner: ASGIApp) -> Any:  # noqa: N802 - mirrors channels' AuthMiddlewareStack
    """Cookies → session → user, around ``inner``."""
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(inner)))
