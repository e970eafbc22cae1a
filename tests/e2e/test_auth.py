"""Auth, access rules and rate limits over real sockets, against ``manage.py serve``.

One server process (``tests.e2e.settings_auth``: the routes of :mod:`tests.routing_auth`) serves
the module; users and credentials are made in its database by :mod:`tests.e2e.auth_setup`. The
flood test starts its own server with a low ``RATE_LIMIT``.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e import auth_setup
from tests.e2e.servers import ServerProcess, running_server, serve_command, server_env
from tests.support.credentials import JWT
from tests.support.timing import scaled
from wsapp.codes import CloseCode

pytestmark = pytest.mark.e2e

SETTINGS = "tests.e2e.settings_auth"
NOT_AUTHENTICATED = (CloseCode.NOT_AUTHENTICATED, "Authentication required.")
FORBIDDEN = (CloseCode.FORBIDDEN, "Permission denied.")
RATE_LIMITED = {
    "type": "error",
    "code": "rate_limited",
    "message": "Rate limit exceeded; message dropped.",
}


@pytest.fixture(scope="module")
def server(
    e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One ``manage.py serve`` for the module's tests (they do not change its state)."""
    log = tmp_path_factory.mktemp("auth-server") / "serve.log"
    yield from serve_cleanly(SETTINGS, e2e_database_url, log)


def serve_cleanly(settings: str, database_url: str, log: Path) -> Iterator[ServerProcess]:
    """``manage.py serve`` with ``settings`` while the caller yields; then its output must show
    that every refusal was a close code: nothing crashed on the way (no 500, no 1011)."""
    with running_server(serve_command, server_env(settings, database_url), log) as process:
        yield process
    assert "Traceback" not in process.output(), process.output()


@pytest.fixture(scope="module")
def creds(e2e_database_url: str) -> dict[str, Any]:
    """Users (member, staff with ``auth.view_user``, admin) and their tokens and session."""
    env = server_env(SETTINGS, e2e_database_url)
    return auth_setup.run("tests.e2e.auth_setup", f"auth-{secrets.token_hex(4)}", env)


def dial(server: ServerProcess, path: str, **options: Any) -> Any:
    return connect(server.url(path), proxy=None, open_timeout=scaled(10), **options)


async def whoami(server: ServerProcess, path: str = "/ws/whoami/", **options: Any) -> Any:
    """The identity frame the route sends on connect, and the subprotocol the server chose."""
    async with dial(server, path, **options) as ws:
        identity = json.loads(await asyncio.wait_for(ws.recv(), scaled(10)))
        return identity, ws.subprotocol, ws.response.headers.get("Sec-WebSocket-Protocol")


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout=scaled(10))
    return ws.close_code, ws.close_reason


async def refusal(server: ServerProcess, path: str, **options: Any) -> tuple[Any, Any]:
    """Connect (the server accepts, so a browser can read the code) and return the close."""
    async with dial(server, path, **options) as ws:
        return await closed_with(ws)


# -- token carriers -----------------------------------------------------------------------------


async def test_a_token_in_a_subprotocol_entry_is_never_echoed(server, creds) -> None:
    token = creds["member_token"]
    identity, chosen, header = await whoami(
        server, subprotocols=["wsapp.token", f"wsapp.token.{token}"]
    )
    assert (identity["user"], identity["auth_method"]) == (creds["member"], "token")
    assert chosen == header == "wsapp.token"
    assert identity["requested"] == [] and identity["protocol_header"] == "wsapp.token"


async def test_a_token_beside_the_routes_own_subprotocol(server, creds) -> None:
    token = creds["member_token"]
    identity, chosen, header = await whoami(
        server, "/ws/whoami/v1/", subprotocols=["wsapp.v1", f"wsapp.token.{token}"]
    )
    assert identity["user"] == creds["member"]
    assert chosen == header == "wsapp.v1"


async def test_a_token_in_an_authorization_header(server, creds) -> None:
    headers = {"Authorization": f"Bearer {creds['member_token']}"}
    identity, _, _ = await whoami(server, additional_headers=headers)
    assert (identity["user"], identity["auth_method"]) == (creds["member"], "token")


async def test_a_token_in_the_query_string(server, creds) -> None:
    identity, _, _ = await whoami(server, f"/ws/whoami/?token={creds['member_token']}")
    assert (identity["user"], identity["auth_method"]) == (creds["member"], "token")


# -- failed tokens: 4401, never a 500, never anonymous ------------------------------------------


@pytest.mark.parametrize(
    "which, reason",
    [
        ("tampered", "Invalid token."),
        ("expired_token", "Token expired."),
        ("stale_token", "Token no longer valid."),
    ],
    ids=["tampered", "expired", "after-password-change"],
)
@pytest.mark.parametrize("carrier", ["subprotocol", "header", "query"])
async def test_a_failed_token_closes_4401_with_its_reason(
    server, creds, which, reason, carrier
) -> None:
    token = creds[which] if which != "tampered" else creds["member_token"][:-2] + "xx"
    options: dict[str, Any] = {}
    path = "/ws/whoami/"
    if carrier == "subprotocol":
        options["subprotocols"] = ["wsapp.token", f"wsapp.token.{token}"]
    elif carrier == "header":
        options["additional_headers"] = {"Authorization": f"Bearer {token}"}
    else:
        path += f"?token={token}"
    assert await refusal(server, path, **options) == (CloseCode.NOT_AUTHENTICATED, reason)


async def test_a_failed_token_is_not_rescued_by_a_good_session(server, creds) -> None:
    headers = {"Cookie": creds["session_cookie"]}
    path = f"/ws/whoami/?token={creds['stale_token']}"
    assert await refusal(server, path, additional_headers=headers) == (
        CloseCode.NOT_AUTHENTICATED,
        "Token no longer valid.",
    )


# -- credentials that are not wsapp tokens: the project's, untouched -----------------------------


async def test_a_foreign_bearer_credential_reaches_the_handler_untouched(server, creds) -> None:
    headers = {"Authorization": f"Bearer {JWT}", "Cookie": creds["session_cookie"]}
    identity, _, _ = await whoami(server, additional_headers=headers)
    assert (identity["user"], identity["auth_method"]) == (creds["member"], None)  # the session's
    assert identity["authorization"] == f"Bearer {JWT}"


async def test_a_foreign_query_token_reaches_the_handler_untouched(server) -> None:
    identity, _, _ = await whoami(server, f"/ws/whoami/?token={JWT}")
    assert (identity["user"], identity["query_token"]) == (None, JWT)


async def test_a_foreign_credential_on_a_login_route_is_no_credential(server) -> None:
    headers = {"Authorization": f"Bearer {JWT}"}
    assert await refusal(server, "/ws/members/", additional_headers=headers) == NOT_AUTHENTICATED


# -- sessions -----------------------------------------------------------------------------------


async def test_a_session_cookie_authenticates(server, creds) -> None:
    identity, _, _ = await whoami(
        server, "/ws/members/", additional_headers={"Cookie": creds["session_cookie"]}
    )
    assert (identity["user"], identity["auth_method"]) == (creds["member"], None)


async def test_a_forged_session_cookie_is_anonymous(server, creds) -> None:
    forged = {"Cookie": f"{creds['session_cookie_name']}=forged{secrets.token_hex(12)}"}
    identity, _, _ = await whoami(server, additional_headers=forged)
    assert identity["user"] is None
    assert await refusal(server, "/ws/members/", additional_headers=forged) == NOT_AUTHENTICATED


def _login_and_get_token(server: ServerProcess, username: str, password: str) -> Any:
    """Log in through the demo's login page, then ask ``/wsapp/token/``: a browser's path."""
    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    login = server.url("/accounts/login/", scheme="http")
    page = opener.open(login, timeout=10).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf, page[:500]
    form = {
        "username": username,
        "password": password,
        "csrfmiddlewaretoken": csrf[1],
        "next": "/wsapp/token/",
    }
    opener.open(Request(login, data=urlencode(form).encode()), timeout=10).read()
    cookies = {cookie.name: cookie.value for cookie in jar}
    with opener.open(server.url("/wsapp/token/", scheme="http"), timeout=10) as response:
        body = json.loads(response.read())
    return cookies, body


async def test_a_logged_in_browser_gets_a_token_and_connects_with_either(server, creds) -> None:
    cookies, body = await asyncio.to_thread(
        _login_and_get_token, server, creds["admin"], creds["password"]
    )
    assert set(body) == {"token", "expires_in"} and body["expires_in"] == 3600
    cookie = f"{creds['session_cookie_name']}={cookies[creds['session_cookie_name']]}"
    by_cookie, _, _ = await whoami(server, "/ws/members/", additional_headers={"Cookie": cookie})
    by_token, _, _ = await whoami(server, f"/ws/members/?token={body['token']}")
    assert by_cookie["user"] == by_token["user"] == creds["admin"]
    assert (by_cookie["auth_method"], by_token["auth_method"]) == (None, "token")


def _get_status(url: str) -> tuple[int, Any]:
    try:
        with build_opener().open(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_the_token_view_answers_anonymous_with_401(server) -> None:
    status, body = await asyncio.to_thread(_get_status, server.url("/wsapp/token/", scheme="http"))
    assert (status, body["error"]) == (401, "not_authenticated")


# -- 4401 vs 4403, both handler styles ------------------------------------------------------------


@pytest.mark.parametrize("route", ["/ws/members/", "/ws/consumer/members/", "/ws/staff/"])
async def test_anonymous_gets_4401(server, route) -> None:
    assert await refusal(server, route) == NOT_AUTHENTICATED


@pytest.mark.parametrize("route", ["/ws/staff/", "/ws/consumer/staff/"])
async def test_a_user_without_the_permission_gets_4403(server, creds, route) -> None:
    assert await refusal(server, f"{route}?token={creds['member_token']}") == FORBIDDEN


@pytest.mark.parametrize("route", ["/ws/staff/", "/ws/consumer/staff/"])
async def test_a_user_with_the_permission_gets_in(server, creds, route) -> None:
    identity, _, _ = await whoami(server, f"{route}?token={creds['staff_token']}")
    assert identity["user"] == creds["staff"]


# -- rate limits --------------------------------------------------------------------------------


@pytest.fixture
def limited_server(e2e_database_url: str, tmp_path) -> Iterator[ServerProcess]:
    """A server allowing 20 frames a second (burst 20) and 1 s over it."""
    env = server_env(
        SETTINGS,
        e2e_database_url,
        {"WSAPP_E2E": json.dumps({"RATE_LIMIT": "20/s burst 20", "RATE_LIMIT_GRACE": 1.0})},
    )
    with running_server(serve_command, env, tmp_path / "serve.log") as process:
        yield process


@pytest.mark.parametrize("route", ["/ws/whoami/", "/ws/consumer/whoami/"])
async def test_a_flood_gets_rate_limited_then_4429_while_others_are_served(
    limited_server, route
) -> None:
    frame = json.dumps({"type": "echo"})
    received: list[Any] = []
    served: list[float] = []  # round trips of a well-behaved client during the flood
    async with (
        dial(limited_server, route) as flooder,
        dial(limited_server, "/ws/whoami/") as other,
    ):
        await flooder.recv()
        await other.recv()

        async def read_flooder() -> None:
            with pytest.raises(ConnectionClosed):
                while True:
                    received.append(json.loads(await flooder.recv()))

        async def meanwhile() -> None:
            n = 0
            while not flooder.close_code:  # 10 a second: well under the limit
                sent = time.monotonic()
                await other.send(json.dumps({"n": n}))
                assert json.loads(await asyncio.wait_for(other.recv(), 5)) == {"n": n}
                served.append(time.monotonic() - sent)
                n += 1
                await asyncio.sleep(0.1)

        reader = asyncio.create_task(read_flooder())
        polite = asyncio.create_task(meanwhile())
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while time.monotonic() - started < 10:  # ~200 frames a second: 10x the limit
                await flooder.send(frame)
                await asyncio.sleep(0.005)
        await asyncio.wait_for(reader, scaled(10))
        flood_lasted = time.monotonic() - started
        await asyncio.wait_for(polite, scaled(10))

    assert (flooder.close_code, flooder.close_reason) == (
        CloseCode.RATE_LIMITED,
        "Rate limit exceeded for over 1 s.",
    )
    assert 1.0 <= flood_lasted < 5.0  # closed after the grace, not before
    echoes = received.count({"type": "echo"})
    assert 20 < echoes <= 20 + 20 * flood_lasted  # the burst, then the rate, no more
    if route == "/ws/whoami/":  # a plain handler's protocol is its own: no JSON notice in it
        assert received == [{"type": "echo"}] * echoes
    else:  # a Consumer answers each drop with the wire protocol's error frame
        first_drop = received.index(RATE_LIMITED)
        assert received[:first_drop] == [{"type": "echo"}] * first_drop
        assert 20 <= first_drop < 20 + 20 * 0.5  # the burst passes, plus what refilled meanwhile
        assert set(map(json.dumps, received)) == {frame, json.dumps(RATE_LIMITED)}
        assert received.count(RATE_LIMITED) > 10  # the drops were answered (how many: load)
    assert len(served) >= 8 and max(served) < 1.0
    async with dial(limited_server, "/ws/whoami/") as fresh:  # the server is still fine
        assert json.loads(await fresh.recv())["type"] == "whoami"
