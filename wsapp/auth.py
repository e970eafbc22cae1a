"""Who is connecting: a signed token, else Django's session through channels' own middleware.

``TokenAuthMiddleware`` looks for a wsapp token (see :mod:`wsapp.tokens`) in the carriers
``WSAPP["TOKEN_CARRIERS"]`` names, in this order: a ``Sec-WebSocket-Protocol`` entry
``wsapp.token.<token>``, an ``Authorization: Bearer <token>`` header, a ``?token=`` query
parameter. The first carrier is wsapp's own namespace; the other two are shared with every token
scheme there is, so there it takes only a credential shaped like a wsapp token
(:func:`wsapp.tokens.looks_like_token`) and leaves any other — a project's API key, a JWT —
untouched, for the project's own middleware or handler to read.

A valid token sets ``scope["user"]``; an invalid one sets ``scope["auth_error"]``, and
:mod:`wsapp.access` closes the connection with 4401 — a client that presented a wsapp token is
told it failed, never served silently as anonymous (or as whoever the cookie names).

``SessionAuthMiddleware`` is channels' ``AuthMiddleware`` with one change: a user that an outer
layer has already established (a token, the test client) is kept, not overwritten by the
anonymous user of a cookie-less session.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl

from channels.auth import AuthMiddleware, UserLazyObject, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.http import parse_cookie

from wsapp import lifecycle
from wsapp.conf import get_settings
from wsapp.connection import WebSocket
from wsapp.dbhealth import database_call
from wsapp.exceptions import DatabaseUnavailable, InvalidToken, WsappError
from wsapp.tokens import check_token, looks_like_token
from wsapp.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "TOKEN_SUBPROTOCOL",
    "TOKEN_SUBPROTOCOL_PREFIX",
    "SessionAuthMiddleware",
    "SessionAuthStack",
    "TokenAuthMiddleware",
]

#: A client offers ``wsapp.token.<token>`` as a subprotocol to send its token in a header.
TOKEN_SUBPROTOCOL_PREFIX = "wsapp.token."
#: Offered alongside, it is what the server selects when the route negotiates nothing: browsers
#: fail a handshake where they offered protocols and the server chose none, and the token entry
#: itself must never be echoed back.
TOKEN_SUBPROTOCOL = "wsapp.token"


class SessionAuthMiddleware(AuthMiddleware):  # type: ignore[misc]
    """``scope["user"]`` from the Django session, unless an outer layer set it already.

    With the database away the session cannot be read: the websocket is refused with 1013 (try
    again later), logged once per outage (:mod:`wsapp.dbhealth`), not a traceback per handshake.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        scope = dict(scope)
        if not await self.authenticate(scope, receive, send):
            return None
        return await self.inner(scope, receive, send)

    async def authenticate(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Put the user in ``scope`` (in place); ``False`` once the connection was refused."""
        self.populate_scope(scope)
        try:
            with database_call("read the session"):
                await self.resolve_scope(scope)
        except DatabaseUnavailable as exc:
            await _refuse(scope, receive, send, exc)
            return False
        return True

    async def resolve_scope(self, scope: Scope) -> None:
        user = scope["user"]
        if not isinstance(user, UserLazyObject):
            return
        session = scope.get("session")
        if session is not None and not session.session_key:
            # No session cookie: anonymous, without a hop to the database thread pool (the
            # common case for scripts, and the hot path of every benchmark). The import is
            # deferred, as channels.auth's: the auth models need a ready app registry.
            from django.contrib.auth.models import AnonymousUser

            user._wrapped = AnonymousUser()
            return
        user._wrapped = await get_user(scope)


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: DatabaseUnavailable) -> None:
    """Accept, then close with the exception's code: browsers only see close codes."""
    # Deferred: the auth models need a ready app registry; this module may load before it.
    from django.contrib.auth.models import AnonymousUser

    scope["user"]._wrapped = AnonymousUser()  # the accept's observers look at the user
    ws = WebSocket(scope, receive, send, tracker=lifecycle.registry)
    with contextlib.suppress(WsappError, OSError):
        await ws.accept()
        await ws.close(exc.code, exc.reason)


# The user step of the one-frame path (session_scope): authenticate(), never its inner app.
_SESSION_AUTH = SessionAuthMiddleware(None)


class WebSocketSessionMiddleware(SessionMiddleware):  # type: ignore[misc]
    """channels' ``SessionMiddleware`` — for a websocket, without its wrapper around ``send``.

    That wrapper exists to save the session and set its cookie on ``http.response.start``; a
    websocket never sends one, yet the wrapper costs two lazy-object lookups and an
    ``is_empty()`` on every frame sent (seen in bench/'s profiles). Handlers that change the
    session save it themselves, as with channels (``await ws.session.asave()``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "websocket":
            return await super().__call__(scope, receive, send)
        # This frame waits as long as the connection lives: it keeps only the scope it passes
        # on, not the wrapper nor the cookie middleware's copy (python -m bench.memory).
        scope = await _with_session(scope, send)
        return await self.inner(scope, receive, send)


async def _with_session(scope: Scope, send: Send) -> Scope:
    """A copy of ``scope`` with its ``session`` (channels' ``InstanceSessionWrapper``), and
    nothing else of the wrapper kept."""
    wrapper = InstanceSessionWrapper(scope, send)
    await wrapper.resolve_session()
    return wrapper.scope  # type: ignore[no-any-return]


def SessionAuthStack(inner: ASGIApp) -> Any:  # noqa: N802 - mirrors channels' AuthMiddlewareStack
    """Cookies → session → user, around ``inner``."""
    return CookieMiddleware(WebSocketSessionMiddleware(SessionAuthMiddleware(inner)))


async def session_scope(scope: Scope, receive: Receive, send: Send) -> Scope | None:
    """What :func:`SessionAuthStack` passes to ``inner`` for a websocket with headers, built on
    one copy of ``scope`` in the caller's frame: cookies (``CookieMiddleware``'s), session
    (:class:`WebSocketSessionMiddleware`'s), user (:class:`SessionAuthMiddleware`'s).

    Returns ``None`` once the connection was refused (1013: the database is away).
    """
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookies = parse_cookie(value.decode("latin1"))
            break
    else:
        cookies = {}
    scope = await _with_session(dict(scope, cookies=cookies), send)  # no one else holds it
    return scope if await _SESSION_AUTH.authenticate(scope, receive, send) else None


def carries_token(scope: Scope) -> bool:
    """Whether :class:`TokenAuthMiddleware` finds a wsapp token in ``scope``'s carriers."""
    return _take_token(scope)[0] is not None


class TokenAuthMiddleware:
    """Authenticate a websocket by a signed token, if the client presented one.

    A credential that is not a wsapp token passes through: the scope is as the client sent it.
    Stateless: everything it learns goes into a copy of the scope. Put it outside the session
    stack, which keeps the user it sets.
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.inner(scope, receive, send)
            return
        # Copied only once there is something to change: every copy lives as long as its
        # connection (python -m bench.memory), and most connections carry no token.
        token, offered_marker, changes = _take_token(scope)
        if token is None:
            await self.inner(scope, receive, send)
            return
        scope = {**scope, **changes}
        try:
            scope["user"] = await database_sync_to_async(check_token)(token)
        except InvalidToken as exc:
            # Deferred: the auth models need a ready app registry; this module may load before it.
            from django.contrib.auth.models import AnonymousUser

            # Neither the token's user nor the cookie's: the access check closes with 4401.
            scope["user"] = AnonymousUser()
            scope["auth_error"] = exc.reason
        else:
            scope["auth_method"] = "token"
        if offered_marker:
            send = _select_marker_by_default(send)
        await self.inner(scope, receive, send)


def _take_token(scope: Scope) -> tuple[str | None, bool, dict[str, Any]]:
    """Find the token in the carriers ``WSAPP["TOKEN_CARRIERS"]`` names, in order.

    Returns the token (``None`` when there is none), whether the client offered the bare
    ``wsapp.token`` marker beside a token entry, and the scope keys that change (the
    subprotocol carrier's entries taken out); ``scope`` itself is left as it is.
    """
    carriers = get_settings()["TOKEN_CARRIERS"]
    if "subprotocol" in carriers and any(map(_is_token_entry, scope.get("subprotocols") or ())):
        return _take_subprotocol_token(scope)
    if "header" in carriers:
        token = _bearer_token(scope)
        if token is not None:
            return token, False, {}
    if "query" in carriers:
        return _query_token(scope), False, {}
    return None, False, {}


def _take_subprotocol_token(scope: Scope) -> tuple[str, bool, dict[str, Any]]:
    """The ``wsapp.token.<token>`` entry: wsapp's own namespace, so whatever follows the prefix
    is taken as a wsapp token (a forged one gets its 4401), and the scope without it."""
    offered = list(scope["subprotocols"])
    tokens = [p[len(TOKEN_SUBPROTOCOL_PREFIX) :] for p in offered if _is_token_entry(p)]
    subprotocols = [p for p in offered if not _is_token_entry(p)]
    marker = TOKEN_SUBPROTOCOL in subprotocols
    if marker:
        subprotocols.remove(TOKEN_SUBPROTOCOL)
    headers = _without_token_entries(scope.get("headers") or [])
    return tokens[0], marker, {"subprotocols": subprotocols, "headers": headers}


def _bearer_token(scope: Scope) -> str | None:
    """The first ``Authorization: Bearer`` credential shaped like a wsapp token. Any other
    (a project's API key, a JWT) is the project's business: left where it is, untried."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and looks_like_token(credentials.strip()):
                return credentials.strip()
    return None


def _query_token(scope: Scope) -> str | None:
    """The first ``?token=`` value shaped like a wsapp token; any other is left to the handler."""
    query = scope.get("query_string") or b""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    if "token=" not in text:  # cheap test before parsing: most connections carry no token
        return None
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key == "token" and looks_like_token(value):
            return value
    return None


def _is_token_entry(protocol: str) -> bool:
    return protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX)


def _without_token_entries(headers: Any) -> list[tuple[bytes, bytes]]:
    """The headers with the token left out of ``Sec-WebSocket-Protocol``, so a handler that
    logs its headers does not log a credential."""
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name.lower() == b"sec-websocket-protocol":
            entries = [p.strip() for p in value.decode("latin-1").split(",")]
            entries = [p for p in entries if p and not _is_token_entry(p)]
            if not entries:
                continue
            value = ", ".join(entries).encode("latin-1")
        kept.append((name, value))
    return kept


def _select_marker_by_default(send: Send) -> Send:
    """Wrap ``send`` so an accept that selects no subprotocol selects the ``wsapp.token`` marker."""

    async def send_with_marker(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": TOKEN_SUBPROTOCOL}
        await send(message)

    return send_with_marker
