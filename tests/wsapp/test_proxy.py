"""Trusted-proxy headers: whose ``X-Forwarded-For`` is believed, and which hop of it."""

from __future__ import annotations

from typing import Any

import pytest

from wsapp.proxy import ProxyHeadersMiddleware, address_in, forwarded_client

PROXY = "10.0.0.2"
TRUSTED = ["10.0.0.0/24", "::1"]


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        pytest.param("203.0.113.9", "127.0.0.1", "203.0.113.9", id="untrusted-peer-is-the-client"),
        pytest.param(PROXY, "198.51.100.1", "198.51.100.1", id="one-hop"),
        pytest.param(PROXY, "127.0.0.1, 198.51.100.1", "198.51.100.1", id="client-forged-a-hop"),
        pytest.param(PROXY, "198.51.100.1, 10.0.0.7", "198.51.100.1", id="two-trusted-proxies"),
        pytest.param(PROXY, "10.0.0.9, 10.0.0.7", "10.0.0.9", id="all-hops-trusted"),
        pytest.param(PROXY, "", PROXY, id="empty-header"),
        pytest.param(PROXY, " , ,", PROXY, id="only-commas"),
        pytest.param(PROXY, "not-an-ip", "not-an-ip", id="garbage-is-no-trusted-hop"),
        pytest.param("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1", id="ipv4-mapped-peer"),
    ],
)
def test_forwarded_client(peer: str, header: str, client: str) -> None:
    assert forwarded_client(peer, header, TRUSTED) == client


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("10.0.0.200", True),
        ("::1", True),
        ("::ffff:10.0.0.1", True),
        ("10.0.1.1", False),
        ("", False),
        ("unix-socket", False),
    ],
)
def test_address_in(address: str, inside: bool) -> None:
    assert address_in(address, TRUSTED) is inside


async def _scope_seen(scope: dict[str, Any], trusted: list[str] | None = TRUSTED) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    await ProxyHeadersMiddleware(app, trusted)(scope, None, None)  # type: ignore[arg-type]
    return seen


def _scope(kind: str, peer: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    scheme = "ws" if kind == "websocket" else "http"
    return {"type": kind, "client": (peer, 5000), "scheme": scheme, "headers": list(headers)}


@pytest.mark.parametrize(("kind", "secure"), [("http", "https"), ("websocket", "wss")])
async def test_a_trusted_proxy_sets_client_and_scheme(kind: str, secure: str) -> None:
    scope = _scope(
        kind, PROXY, (b"X-Forwarded-For", b"198.51.100.1"), (b"X-Forwarded-Proto", b"https")
    )
    seen = await _scope_seen(scope)
    assert seen["client"] == ("198.51.100.1", 0)
    assert seen["scheme"] == secure
    assert scope["client"] == (PROXY, 5000), "the caller's scope is not modified"


async def test_an_untrusted_peer_keeps_its_own_address_and_scheme() -> None:
    scope = _scope(
        "websocket",
        "203.0.113.9",
        (b"x-forwarded-for", b"127.0.0.1"),
        (b"x-forwarded-proto", b"https"),
    )
    seen = await _scope_seen(scope)
    assert (seen["client"], seen["scheme"]) == (("203.0.113.9", 5000), "ws")


async def test_repeated_forwarded_for_headers_read_as_one_list() -> None:
    scope = _scope(
        "http",
        PROXY,
        (b"x-forwarded-for", b"127.0.0.1"),  # written by the client
        (b"x-forwarded-for", b"198.51.100.1"),  # appended by the proxy
    )
    assert (await _scope_seen(scope))["client"] == ("198.51.100.1", 0)


async def test_an_unknown_proto_leaves_the_scheme(settings: Any) -> None:
    scope = _scope("http", PROXY, (b"x-forwarded-proto", b"gopher"))
    assert (await _scope_seen(scope))["scheme"] == "http"


async def test_trusted_proxies_default_to_the_setting(settings: Any) -> None:
    settings.WSAPP = {**settings.WSAPP, "TRUSTED_PROXIES": ["192.0.2.0/24"]}
    trusted = _scope("http", "192.0.2.5", (b"x-forwarded-for", b"198.51.100.1"))
    assert (await _scope_seen(trusted, None))["client"] == ("198.51.100.1", 0)
    untrusted = _scope("http", PROXY, (b"x-forwarded-for", b"198.51.100.1"))
    assert (await _scope_seen(untrusted, None))["client"] == (PROXY, 5000)


async def test_lifespan_scopes_pass_through_untouched() -> None:
    scope = {"type": "lifespan"}
    assert await _scope_seen(scope) == {"type": "lifespan"}
