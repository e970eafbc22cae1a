"""The client's real address behind a reverse proxy, believed only from the proxies you trust.

``X-Forwarded-For`` is a header any client can send. A server that takes its first entry as the
client's address (Daphne's ``--proxy-headers`` does) lets anyone claim to be ``127.0.0.1`` and
pass an address allow-list such as ``WSAPP["METRICS_ALLOWED_IPS"]``. So, as uvicorn's and
Werkzeug's proxy fixes do, the headers are read only when the peer itself is a trusted proxy
(``WSAPP["TRUSTED_PROXIES"]``), and the address is the rightmost entry that is *not* a trusted
proxy: each proxy appends the peer it saw, so everything left of the last untrusted hop was
written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from wsapp.conf import get_settings
from wsapp.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware", "address_in", "forwarded_client"]

_SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


def address_in(address: str, networks: Iterable[str]) -> bool:
    """Whether ``address`` lies in one of ``networks`` (addresses or CIDR networks).

    A text that is not an IP address (a unix socket's peer, a garbled header) is in none.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    # A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    candidates = [ip] if mapped is None else [ip, mapped]
    return any(
        candidate in ipaddress.ip_network(network, strict=False)
        for network in networks
        for candidate in candidates
    )


def forwarded_client(peer: str, forwarded_for: str, trusted: Iterable[str]) -> str:
    """The client address for a request from ``peer`` carrying ``X-Forwarded-For: forwarded_for``.

    ``peer`` itself unless it is a trusted proxy; otherwise the rightmost hop in the header that
    is not a trusted proxy (or the leftmost hop, when every hop is trusted).
    """
    trusted = list(trusted)
    if not address_in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not address_in(hop, trusted):
            return hop
    return hops[0] if hops else peer


class ProxyHeadersMiddleware:
    """ASGI middleware: ``scope["client"]`` and ``scope["scheme"]`` from trusted proxies' headers.

    ``manage.py serve --proxy-headers`` wraps the application in it; under another server, wrap
    ``get_asgi_application()`` yourself (or use that server's own trusted-proxy option).

    Args:
        app: the application to call with the corrected scope.
        trusted: proxy addresses or networks; ``WSAPP["TRUSTED_PROXIES"]`` when omitted.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str] | None = None) -> None:
        self.app = app
        self.trusted = None if trusted is None else list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _SCHEMES and scope.get("client"):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        trusted = self.trusted if self.trusted is not None else get_settings()["TRUSTED_PROXIES"]
        peer_host, peer_port = scope["client"][0], scope["client"][1]
        if not address_in(peer_host, trusted):
            return scope
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            # Repeated headers are one list (RFC 9110 §5.3), in the order the proxies wrote them.
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        scope = dict(scope)
        if "x-forwarded-for" in headers:
            client = forwarded_client(peer_host, headers["x-forwarded-for"], trusted)
            scope["client"] = (client, 0 if client != peer_host else peer_port)
        proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        scheme = _SCHEMES[scope["type"]].get(proto)
        if scheme is not None:
            scope["scheme"] = scheme
        return scope
