"""The Origin check at the handshake: channels' validator, with wsapp's list and policy.

Allowed origins come from ``WSAPP["ALLOWED_ORIGINS"]`` or, by default, ``ALLOWED_HOSTS`` (as
channels' ``AllowedHostsOriginValidator``). Unlike channels, a handshake with no Origin header —
a script, a mobile app, another service; browsers always send one — is let through unless
``WSAPP["REQUIRE_ORIGIN"]`` is set: Origin protects browsers' cookies, not the server.
A refused origin is refused at the handshake (403), never accepted.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import ParseResult, urlparse

from channels.security.websocket import OriginValidator
from django.conf import settings

from wsapp import metrics
from wsapp.codes import CloseCode
from wsapp.conf import get_settings
from wsapp.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("wsapp")

_DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]
_SERIALIZED_ORIGIN = re.compile(
    r"[a-z][a-z0-9+.-]*://(?:\[[0-9a-f:.]+\]|[^\s/?#@\\\[\]:]+)(?::[0-9]{1,5})?", re.IGNORECASE
)
_UNMATCHABLE = urlparse("invalid://")


def allowed_origins() -> list[str]:
    """The origin patterns in force, in channels' ``OriginValidator`` syntax."""
    configured = get_settings()["ALLOWED_ORIGINS"]
    if configured is not None:
        return list(configured)
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = _DEBUG_HOSTS  # what Django's own host validation allows in DEBUG
    return hosts


class OriginCheck(OriginValidator):  # type: ignore[misc]
    """Refuse handshakes from origins that are not allowed."""

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    @property
    def allowed_origins(self) -> list[str]:
        return allowed_origins()

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        if parsed_origin is None:
            return not get_settings()["REQUIRE_ORIGIN"]
        return bool(self.validate_origin(parsed_origin))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if await self.refused(scope, send):
            return None
        return await self.application(scope, receive, send)

    async def refused(self, scope: Scope, send: Send) -> bool:
        """Refuse the handshake if its Origin is not allowed; whether it was refused."""
        origin = dict(scope.get("headers", [])).get(b"origin")
        if self.valid_origin(_parse(origin)):
            return False
        logger.warning("Refused websocket handshake from origin %r to %s", origin, scope["path"])
        metrics.totals.refuse("origin")
        await send({"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE, "reason": ""})
        return True


def _parse(origin: bytes | None) -> ParseResult | None:
    """The parsed Origin, or an unmatchable one when it is not a serialized origin.

    RFC 6454 §6.2: a browser sends ``scheme://host[:port]`` and nothing else. Anything with a
    path, userinfo, a backslash or spaces was written by hand, and urllib may read a host out of
    it that the sender never meant (``http://evil.example\\@127.0.0.1`` → ``127.0.0.1``).
    """
    if origin is None:
        return None
    text = origin.decode("latin-1")
    if _SERIALIZED_ORIGIN.fullmatch(text) is None:
        return _UNMATCHABLE
    return urlparse(text)
