"""README's "your own token scheme" example under a real ``manage.py serve``.

The server runs the example's own ``asgi.py`` (``tests.e2e.settings_apikeys``): a project's API
keys, checked by its middleware inside wsapp's stack, beside wsapp tokens and sessions. The
in-process twin, and the check that README shows these very files, is
``tests/wsapp/test_own_token_scheme.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import auth_setup
from tests.e2e.servers import (
    ServerProcess,
    migrate,
    server_env,
)
from tests.e2e.test_auth import refusal, serve_cleanly, whoami
from wsapp.codes import CloseCode

pytestmark = pytest.mark.e2e

SETTINGS = "tests.e2e.settings_apikeys"
INVALID_KEY = (CloseCode.NOT_AUTHENTICATED, "Invalid API key.")


@pytest.fixture(scope="module")
def database_url(e2e_database_url: str) -> str:
    """The session's e2e database, with the example app's table added."""
    migrate(e2e_database_url, SETTINGS)
    return e2e_database_url


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("apikeys-server") / "serve.log"
    yield from serve_cleanly(SETTINGS, database_url, log)


@pytest.fixture(scope="module")
def creds(database_url: str) -> dict[str, Any]:
    env = server_env(SETTINGS, database_url)
    return auth_setup.run("tests.e2e.apikeys_setup", f"keys-{secrets.token_hex(4)}", env)


async def test_a_key_in_the_header_reaches_the_readme_route(server, creds) -> None:
    headers = {"Authorization": f"Bearer {creds['member_key']}"}
    feed, _, _ = await whoami(server, "/ws/feed/", additional_headers=headers)
    assert feed == {"user": creds["member"], "via": "api_key"}


async def test_a_key_in_the_query_reaches_the_handler_as_sent(server, creds) -> None:
    key = creds["member_key"]
    identity, _, _ = await whoami(server, f"/ws/whoami/?token={key}")
    assert (identity["user"], identity["auth_method"]) == (creds["member"], "api_key")
    assert identity["query_token"] == key


@pytest.mark.parametrize("which", ["unknown", "inactive_key"])
@pytest.mark.parametrize("path", ["/ws/feed/", "/ws/whoami/"])
async def test_a_key_that_is_not_valid_is_4401_with_the_projects_reason(
    server, creds, which, path
) -> None:
    key = creds.get(which, "sk_" + secrets.token_urlsafe(24))
    headers = {"Authorization": f"Bearer {key}"}
    assert await refusal(server, path, additional_headers=headers) == INVALID_KEY


async def test_wsapp_tokens_and_sessions_work_beside_the_keys(server, creds) -> None:
    token = {"Authorization": f"Bearer {creds['member_token']}"}
    by_token, _, _ = await whoami(server, "/ws/feed/", additional_headers=token)
    cookie = {"Cookie": creds["session_cookie"]}
    by_session, _, _ = await whoami(server, "/ws/feed/", additional_headers=cookie)
    assert by_token == {"user": creds["member"], "via": "token"}
    assert by_session == {"user": creds["member"], "via": None}


async def test_a_failed_wsapp_token_is_refused_by_wsapp_not_the_project(server, creds) -> None:
    path = f"/ws/feed/?token={creds['expired_token']}"
    assert await refusal(server, path) == (CloseCode.NOT_AUTHENTICATED, "Token expired.")


async def test_no_credential_meets_the_routes_rule(server) -> None:
    assert await refusal(server, "/ws/feed/") == (
        CloseCode.NOT_AUTHENTICATED,
        "Authentication required.",
    )
