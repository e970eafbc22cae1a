"""The Origin check at the handshake, in-process on the real websocket stack."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import override_settings

from tests.support.timing import scaled
from wsapp.asgi import websocket_application
from wsapp.codes import CloseCode
from wsapp.connection import WebSocket
from wsapp.origin import allowed_origins
from wsapp.routing import Router, path
from wsapp.testing import AsyncWebSocketClient, HandshakeRejected

HOSTS = ["example.com", ".example.org"]


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def client(calls: list[str]) -> AsyncWebSocketClient:
    async def handler(ws: WebSocket) -> None:
        calls.append(ws.path)
        await ws.accept()
        await ws.send_text("welcome")

    return AsyncWebSocketClient(
        websocket_application(Router([path("ws/", handler)])), timeout=scaled(2)
    )


async def handshake(client: AsyncWebSocketClient, origin: str | None) -> Any:
    """``"welcome"`` when the handshake is accepted, else the refusal's ``(code, reason)``."""
    headers = {} if origin is None else {"origin": origin}
    try:
        async with client.websocket_connect("/ws/", headers=headers) as ws:
            return await ws.receive_text()
    except HandshakeRejected as exc:
        return (exc.code, exc.reason)


REFUSED = (CloseCode.NORMAL_CLOSURE, "")  # a close before accept: a 403 under a real server


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",
        "http://example.com",
        "http://example.com:8000",
        "https://example.org",
        "https://chat.example.org",
    ],
)
async def test_an_origin_of_an_allowed_host_is_accepted(
    client: AsyncWebSocketClient, origin: str
) -> None:
    assert await handshake(client, origin) == "welcome"


@override_settings(ALLOWED_HOSTS=["testserver"], WSAPP={})
async def test_the_origin_of_the_same_host_is_accepted(client: AsyncWebSocketClient) -> None:
    assert await handshake(client, "http://testserver") == "welcome"  # the client's Host


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com",
        "https://example.com.evil.com",
        "https://notexample.com",
        "https://chat.example.com",  # example.com is not a wildcard pattern
    ],
)
async def test_a_foreign_origin_is_refused_at_the_handshake(
    client: AsyncWebSocketClient, calls: list[str], origin: str
) -> None:
    assert await handshake(client, origin) == REFUSED
    assert calls == []  # the handler never ran


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
async def test_a_refused_origin_logs_one_warning(
    client: AsyncWebSocketClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await handshake(client, "https://evil.com")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("wsapp", "WARNING", "Refused websocket handshake from origin b'https://evil.com' to /ws/")
    ]
    assert caplog.records[0].exc_info is None


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
@pytest.mark.parametrize("origin", ["null", "", "example.com", "http://[::1"])
async def test_an_origin_without_a_host_is_refused(
    client: AsyncWebSocketClient, calls: list[str], origin: str
) -> None:
    assert await handshake(client, origin) == REFUSED
    assert calls == []


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com\\@example.com",  # urllib reads example.com as the host
        "https://evil.com@example.com",
        "https://example.com/",
        "https://example.com/path",
        "https://example.com?x=1",
        "https://example.com#x",
        " https://example.com",
        "https://example.com:99999999",
        "https://exa mple.com",
    ],
)
async def test_an_origin_that_no_browser_sends_is_refused(
    client: AsyncWebSocketClient, calls: list[str], origin: str
) -> None:
    assert await handshake(client, origin) == REFUSED
    assert calls == []


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
async def test_no_origin_is_accepted_by_default(client: AsyncWebSocketClient) -> None:
    assert await handshake(client, None) == "welcome"


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={"REQUIRE_ORIGIN": True})
async def test_no_origin_is_refused_when_an_origin_is_required(
    client: AsyncWebSocketClient, calls: list[str]
) -> None:
    assert await handshake(client, None) == REFUSED
    assert calls == []


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={"REQUIRE_ORIGIN": True})
async def test_an_allowed_origin_is_accepted_when_an_origin_is_required(
    client: AsyncWebSocketClient,
) -> None:
    assert await handshake(client, "https://example.com") == "welcome"


# -- WSAPP["ALLOWED_ORIGINS"] ------------------------------------------------------------------

ORIGINS = {"ALLOWED_ORIGINS": ["https://app.example.net", "http://localhost:3000"]}


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP=ORIGINS)
@pytest.mark.parametrize("origin", ["https://app.example.net", "http://localhost:3000"])
async def test_allowed_origins_allows_an_origin_outside_allowed_hosts(
    client: AsyncWebSocketClient, origin: str
) -> None:
    assert await handshake(client, origin) == "welcome"


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP=ORIGINS)
@pytest.mark.parametrize(
    "origin",
    [
        "http://app.example.net",  # the pattern names the scheme
        "https://app.example.net:8443",  # ... and so the port
        "http://localhost:3001",
    ],
)
async def test_allowed_origins_match_scheme_and_port(
    client: AsyncWebSocketClient, origin: str
) -> None:
    assert await handshake(client, origin) == REFUSED


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP=ORIGINS)
async def test_allowed_origins_replaces_the_origins_derived_from_allowed_hosts(
    client: AsyncWebSocketClient,
) -> None:
    assert allowed_origins() == ORIGINS["ALLOWED_ORIGINS"]
    assert await handshake(client, "https://example.com") == REFUSED


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={"ALLOWED_ORIGINS": ["*"]})
async def test_a_star_allows_any_origin(client: AsyncWebSocketClient) -> None:
    assert await handshake(client, "https://anything.test") == "welcome"


# -- the derived list ------------------------------------------------------------------------------


@override_settings(ALLOWED_HOSTS=HOSTS, WSAPP={})
def test_allowed_origins_default_to_allowed_hosts() -> None:
    assert allowed_origins() == HOSTS


@override_settings(ALLOWED_HOSTS=[], DEBUG=True, WSAPP={})
async def test_debug_without_allowed_hosts_allows_local_origins(
    client: AsyncWebSocketClient,
) -> None:
    assert allowed_origins() == [".localhost", "127.0.0.1", "[::1]"]
    assert await handshake(client, "http://localhost:8000") == "welcome"
    assert await handshake(client, "http://127.0.0.1:8000") == "welcome"


@override_settings(ALLOWED_HOSTS=[], DEBUG=False, WSAPP={})
async def test_no_allowed_hosts_without_debug_allows_no_origin(
    client: AsyncWebSocketClient,
) -> None:
    assert allowed_origins() == []
    assert await handshake(client, "http://localhost:8000") == REFUSED
