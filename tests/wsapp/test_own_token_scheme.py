"""README's "your own token scheme" example (Security → Who is connecting), run in-process.

The example is an app, :mod:`tests.apikeys`: a project's API keys in its own model, checked by a
small middleware inside wsapp's stack. Its files are the README's code blocks, character for
character (but for the ``tests.`` of the import path): so what README shows is what runs here and
under ``manage.py serve`` (``tests/e2e/test_own_token_scheme.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.apikeys.models import ApiKey
from wsapp.codes import CloseCode
from wsapp.testing import AsyncWebSocketClient
from wsapp.tokens import make_token

pytestmark = pytest.mark.django_db(transaction=True)  # the middleware queries from the loop

ROOT = Path(__file__).resolve().parents[2]
#: README's file name of each block → the file in the repository.
FILES = {
    "apikeys/models.py": "tests/apikeys/models.py",
    "apikeys/middleware.py": "tests/apikeys/middleware.py",
    "mysite/asgi.py": "tests/apikeys/asgi.py",
    "mysite/routing.py": "tests/apikeys/routing.py",
}


def readme_blocks() -> dict[str, str]:
    """``{"apikeys/models.py": code, ...}``: the ``python`` blocks of README's "Who is
    connecting" section that start with a ``# path`` comment."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Who is connecting") :]
    section = section[: section.index("\n### ", 5)]
    blocks = re.findall(r"```python\n# ((?:apikeys|mysite)/\w+\.py)\n(.*?)```", section, re.S)
    return {name: code for name, code in blocks}


def test_the_readme_blocks_are_the_example_apps_files() -> None:
    blocks = readme_blocks()
    assert set(blocks) == set(FILES)
    for name, path in FILES.items():
        source = (ROOT / path).read_text().replace("from tests.apikeys.", "from apikeys.")
        assert blocks[name] == source, f"README's {name} and {path} differ"


@pytest.fixture
def app(settings) -> AsyncWebSocketClient:
    """The example's own ``asgi.py`` application, routing its ``feed`` beside the auth routes."""
    settings.WSAPP = {**settings.WSAPP, "ROUTING": "tests.apikeys.served_routing"}
    from tests.apikeys.asgi import application

    return AsyncWebSocketClient(application)


@pytest.fixture
def key(user) -> str:
    return ApiKey.issue(user)


async def first_frame(client: AsyncWebSocketClient, path: str, **options: Any) -> Any:
    async with client.websocket_connect(path, **options) as ws:
        return await ws.receive_json()


async def closed_with(client: AsyncWebSocketClient, path: str, **options: Any) -> Any:
    ws = await client.websocket_connect(path, **options).connect()
    return await ws.wait_closed()


async def test_a_key_in_the_header_authenticates(app, key) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    assert await first_frame(app, "/ws/feed/", headers=headers) == {
        "user": "alice",
        "via": "api_key",
    }


async def test_a_key_in_the_query_authenticates(app, key) -> None:
    assert await first_frame(app, f"/ws/feed/?token={key}") == {"user": "alice", "via": "api_key"}


async def test_the_handler_sees_the_key_as_the_client_sent_it(app, key) -> None:
    identity = await first_frame(
        app, f"/ws/whoami/?token={key}", headers={"Authorization": f"Bearer {key}"}
    )
    assert (identity["user"], identity["auth_method"]) == ("alice", "api_key")
    assert (identity["authorization"], identity["query_token"]) == (f"Bearer {key}", key)


@pytest.mark.parametrize("path", ["/ws/feed/", "/ws/whoami/"])
async def test_an_unknown_key_is_4401_with_the_projects_reason(app, path) -> None:
    headers = {"Authorization": "Bearer sk_not-a-key"}
    assert await closed_with(app, path, headers=headers) == (
        CloseCode.NOT_AUTHENTICATED,
        "Invalid API key.",
    )


async def test_the_key_of_a_deactivated_user_is_refused(app, user, key) -> None:
    user.is_active = False
    await user.asave()
    assert await closed_with(app, f"/ws/feed/?token={key}") == (
        CloseCode.NOT_AUTHENTICATED,
        "Invalid API key.",
    )


async def test_wsapp_tokens_and_sessions_still_work_beside_the_keys(
    app, user, session_cookie
) -> None:
    token = make_token(user)
    by_token = await first_frame(app, "/ws/feed/", headers={"Authorization": f"Bearer {token}"})
    by_session = await first_frame(app, "/ws/feed/", headers={"Cookie": session_cookie})
    assert (by_token, by_session) == (
        {"user": "alice", "via": "token"},
        {"user": "alice", "via": None},
    )


async def test_a_bad_wsapp_token_is_wsapps_refusal_not_the_projects(app, user) -> None:
    forged = make_token(user)[:-1] + "x"
    assert await closed_with(app, f"/ws/feed/?token={forged}") == (
        CloseCode.NOT_AUTHENTICATED,
        "Invalid token.",
    )


async def test_no_credential_meets_the_routes_rule(app) -> None:
    assert await closed_with(app, "/ws/feed/") == (
        CloseCode.NOT_AUTHENTICATED,
        "Authentication required.",
    )
