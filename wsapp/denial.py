"""Refusing a handshake with an HTTP response, and the two refusals ported code reaches for.

``await ws.deny(status, body, headers)`` (:meth:`wsapp.WebSocket.deny`, which the connection
inherits from :class:`DenialMethods`) answers the upgrade request with an HTTP response instead
of the handshake, through ASGI's WebSocket Denial Response
extension (:data:`~wsapp.types.DENIAL_EXTENSION`): what Starlette's ``send_denial_response``
and a ``websockets`` ``process_request`` that returns a response do. This module builds the
extension's events once (:func:`denial_events`) and offers, on top of ``deny``:

- :func:`basic_auth`: HTTP Basic credentials checked at the handshake, 401 with
  ``WWW-Authenticate`` when they are missing or wrong (websockets' ``basic_auth``);
- :func:`process_request`: a handler decorator running a hook first, which may answer with an
  :class:`HTTPResponse` (websockets' ``process_request``), e.g. a health check.

A server without the extension (plain Daphne) cannot send any of it: ``deny`` then closes the
handshake, which such a server answers with ``403`` and an empty body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from wsapp.codes import CloseCode
from wsapp.handshake import encode_headers
from wsapp.types import DENIAL_BODY, DENIAL_EXTENSION, DENIAL_START, Message, Scope, Send

__all__ = ["DenialMethods", "HTTPResponse", "basic_auth", "denial_events", "process_request"]

logger = logging.getLogger("wsapp")

Headers = Mapping[str, str] | Iterable[tuple[bytes, bytes]]
#: RFC 9110 §15: the status codes a response may carry; 1xx are not final responses.
MIN_STATUS, MAX_STATUS = 200, 599
TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")


class HTTPResponse(NamedTuple):
    """An HTTP response for :func:`process_request`'s hook to refuse the handshake with."""

    status: int
    body: bytes | str = b""
    headers: Headers = ()


class _Deniable(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...

    async def deny(self, status: int, body: bytes | str = b"", headers: Headers = ()) -> None: ...


def denial_events(
    status: int, body: bytes | str = b"", headers: Headers = (), *, scope: Scope | None = None
) -> list[Message]:
    """The extension's ``start`` and ``body`` events for one response.

    A ``str`` body is sent as UTF-8, as ``text/plain`` unless ``headers`` name a content type.
    The server adds ``Content-Length``. When ``scope`` is given and its server lacks the
    extension, the events are a plain close instead (such a server answers it with 403),
    logged at debug level; the arguments are checked either way.

    Raises:
        ValueError: ``status`` is not an int from 200 to 599, or a header is malformed.
        TypeError: ``body`` is neither ``str`` nor bytes.
    """
    if not isinstance(status, int) or isinstance(status, bool):
        raise ValueError(f"A denial's status must be an int, got {status!r}.")
    if not MIN_STATUS <= status <= MAX_STATUS:
        raise ValueError(f"A denial's status must be {MIN_STATUS}-{MAX_STATUS}, got {status}.")
    raw_headers = encode_headers(headers)
    for name, value in raw_headers:
        if any(c in name + value for c in b"\r\n\0") or b":" in name or not name:
            raise ValueError(f"Denial header {(name, value)!r} contains a forbidden character.")
    if isinstance(body, str):
        payload = body.encode("utf-8")
        if not any(name.lower() == TEXT_PLAIN[0] for name, _ in raw_headers):
            raw_headers.append(TEXT_PLAIN)
    elif isinstance(body, bytes | bytearray | memoryview):
        payload = bytes(body)
    else:
        raise TypeError(f"A denial's body must be str or bytes, got {type(body).__name__}.")
    if scope is not None and DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        logger.debug(
            "No %s extension: %s denied with 403, not %s.",
            DENIAL_EXTENSION,
            scope.get("path"),
            status,
        )
        return [{"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE, "reason": ""}]
    return [
        {"type": DENIAL_START, "status": status, "headers": raw_headers},
        {"type": DENIAL_BODY, "body": payload, "more_body": False},
    ]


class DenialMethods:
    """``deny()``, over the connection's handshake state (``WebSocket`` inherits it)."""

    scope: Scope
    tracker: Any  # the connection's ConnectionTracker, told of the refusal
    _send: Send

    async def _before_answer(self, operation: str) -> None:
        raise NotImplementedError  # the connection's: the connect event in, nothing answered

    def _mark_closed(self, *, application: bool) -> None:
        raise NotImplementedError  # the connection's

    async def deny(self, status: int, body: bytes | str = b"", headers: Headers = ()) -> None:
        """Refuse the handshake with an HTTP response (ASGI's denial extension): under
        ``manage.py serve`` and the test client the client gets exactly this status, these
        headers and body (a ``str`` as UTF-8 text). Plain Daphne lacks the extension: the
        handshake is closed instead, which it answers with 403 and an empty body.

        Raises:
            ValueError: ``status`` is not 200-599, or a header is malformed.
            InvalidStateError: the connection was already accepted or closed.
            WebSocketDisconnect: the client left before the handshake completed.
        """
        events = denial_events(status, body, headers, scope=self.scope)
        await self._before_answer("deny")
        if self.tracker is not None:
            self.tracker.refused(self)
        for message in events:
            await self._send(message)
        self._mark_closed(application=True)


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic ...`` value (RFC 7617), or None."""
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


async def basic_auth(
    ws: _Deniable,
    check: Callable[[str, str], bool | Awaitable[bool]],
    *,
    realm: str = "wsapp",
) -> str | None:
    """Check the handshake's HTTP Basic credentials; refuse with 401 when they do not pass.

    Call it before ``accept()``; ``check(username, password)`` may be sync or async (a
    database lookup must be async here: ``django.contrib.auth.aauthenticate``)::

        async def feed(ws):
            if await basic_auth(ws, check_password, realm="feed") is None:
                return  # refused: the client got 401 with WWW-Authenticate
            await ws.accept()

    Returns:
        The username, or ``None`` once the handshake has been refused.

    Raises:
        ValueError: ``realm`` holds a quote, a backslash or a line break.
    """
    if any(c in realm for c in '"\\\r\n'):
        raise ValueError(f"A Basic realm cannot hold quotes, backslashes or line breaks: {realm!r}")
    credentials = basic_credentials(ws.headers.get("authorization", ""))
    if credentials is not None:
        verdict = check(*credentials)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict:
            return credentials[0]
    challenge = f'Basic realm="{realm}", charset="UTF-8"'  # RFC 7617 §2, §2.1
    await ws.deny(401, "Authentication required.\n", {"WWW-Authenticate": challenge})
    return None


Hook = Callable[[Any], HTTPResponse | None | Awaitable[HTTPResponse | None]]


def process_request(hook: Hook) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """Run ``hook(ws)`` before the decorated handler; an :class:`HTTPResponse` it returns
    refuses the handshake with that response, ``None`` lets the handler run::

        def health(ws):
            if ws.path == "/healthz/":
                return HTTPResponse(200, "OK\\n")
            return None

        @process_request(health)
        async def handler(ws): ...
    """

    def decorator(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(handler)
        async def wrapper(ws: Any, *args: Any, **kwargs: Any) -> None:
            response = hook(ws)
            if inspect.isawaitable(response):
                response = await response
            if response is not None:
                await ws.deny(*response)
                return
            await handler(ws, *args, **kwargs)

        return wrapper

    return decorator
