"""What the client said at the handshake, read from the ASGI scope once and typed.

The connection object inherits it; kept apart because it is pure data access — no state, no I/O —
and is the half of the connection a reader looks up rather than reads through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from django.http import QueryDict
from django.http.cookie import parse_cookie
from django.utils.datastructures import CaseInsensitiveMapping

from wsapp.types import Scope

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


class Address(NamedTuple):
    host: str
    port: int


class HandshakeData:
    """``path``, ``query_params``, ``headers``, ``cookies``, ``client``, ``user``, ``session``,
    the offered subprotocols and the negotiation among them."""

    scope: Scope
    supported_subprotocols: tuple[str, ...]

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @cached_property
    def query_params(self) -> QueryDict:
        """The query string as Django's immutable, multi-valued ``QueryDict``."""
        raw = self.scope.get("query_string", b"")
        return QueryDict(raw.decode("latin-1") if isinstance(raw, bytes) else raw)

    @cached_property
    def headers(self) -> CaseInsensitiveMapping:
        """Request headers by case-insensitive name; repeated headers joined with ``", "``."""
        merged: dict[str, str] = {}
        for raw_name, raw_value in self.scope.get("headers", []):
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        return CaseInsensitiveMapping(merged)

    @cached_property
    def cookies(self) -> dict[str, str]:
        return parse_cookie(self.headers.get("cookie", ""))

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        return Address(str(client[0]), int(client[1])) if client else None

    @property
    def user(self) -> AbstractBaseUser | AnonymousUser:
        """``scope["user"]`` as the auth middleware set it; anonymous when there is none."""
        user = self.scope.get("user")
        if user is None:
            # Deferred: the auth models need a ready app registry; this module may load before it.
            from django.contrib.auth.models import AnonymousUser

            return AnonymousUser()
        return user  # type: ignore[no-any-return]

    @property
    def session(self) -> Any:
        return self.scope.get("session")

    @property
    def requested_subprotocols(self) -> list[str]:
        return list(self.scope.get("subprotocols") or [])

    def negotiate_subprotocol(self) -> str | None:
        """The first protocol the client offered that the route supports, else ``None``."""
        supported = self.supported_subprotocols
        for offered in self.requested_subprotocols:
            if offered in supported:
                return offered
        return None


def encode_headers(
    headers: Mapping[str, str] | Iterable[tuple[bytes, bytes] | tuple[str, str]] | None,
) -> list[tuple[bytes, bytes]]:
    """Response headers as ASGI wants them: a mapping of ``str``, or pairs of ``str`` (as the
    test client reports them, so a header can repeat) or of ``bytes``, as ``latin-1`` byte
    pairs; ``str`` names are lowercased."""
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [_header_bytes(name, value) for name, value in pairs]


def _header_bytes(name: str | bytes, value: str | bytes) -> tuple[bytes, bytes]:
    if isinstance(name, str):
        name = name.lower().encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return bytes(name), bytes(value)
