"""The token subprotocol carrier in a real browser (headless Chromium, through Playwright).

Two choices in :mod:`wsapp.tokens` and :mod:`wsapp.auth` exist because of browsers, and this is
where they are proven: a token must contain no ``:`` (``new WebSocket()`` throws on a subprotocol
that is not an HTTP token), and a browser that offered subprotocols fails a handshake whose
response selects none — hence the bare ``wsapp.token`` marker the server selects instead of the
token entry, which is never echoed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.servers import (
    PROJECT_ROOT,
    ServerProcess,
    migrate,
    running_server,
    serve_command,
    server_env,
)
from wsapp.codes import CloseCode

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = pytest.mark.browser

SETTINGS = "tests.e2e.settings_auth"

#: Open a socket, report the selected protocol, the first frame and the close (or a throw).
OPEN_SOCKET = """async ({url, protocols}) => await new Promise((resolve) => {
  const out = {};
  let ws;
  try { ws = new WebSocket(url, protocols); } catch (e) { resolve({error: e.name}); return; }
  ws.onopen = () => { out.protocol = ws.protocol; };
  ws.onmessage = (e) => { out.first = JSON.parse(e.data); ws.close(1000); };
  ws.onclose = (e) => { out.code = e.code; out.reason = e.reason; resolve(out); };
})"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium binary on PATH")
    return path


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, dict[str, Any]]]:
    """A server on its own database, and the credentials of its users."""
    workdir = tmp_path_factory.mktemp("browser-auth")
    database_url = f"sqlite:///{workdir / 'db.sqlite3'}"
    migrate(database_url, SETTINGS)
    env = server_env(SETTINGS, database_url)
    setup = subprocess.run(
        [sys.executable, "-m", "tests.e2e.auth_setup", "browser"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, setup.stderr
    with running_server(serve_command, env, Path(workdir) / "serve.log") as server:
        yield server, json.loads(setup.stdout.strip().splitlines()[-1])


@pytest_asyncio.fixture
async def page(site: tuple[ServerProcess, dict[str, Any]]) -> AsyncIterator[Any]:
    """A page on the server's origin (an allowed Origin for the sockets it opens)."""
    server, _ = site
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        tab = await browser.new_page()
        await tab.goto(server.url("/wsapp/token/", scheme="http"))
        yield tab
        await browser.close()


async def open_socket(
    page: Any, server: ServerProcess, protocols: list[str], path: str = "/ws/whoami/"
) -> Any:
    return await page.evaluate(OPEN_SOCKET, {"url": server.url(path), "protocols": protocols})


async def test_a_browser_connects_with_the_token_and_the_marker(site, page) -> None:
    server, creds = site
    result = await open_socket(
        page, server, ["wsapp.token", f"wsapp.token.{creds['member_token']}"]
    )
    assert result["protocol"] == "wsapp.token"
    assert (result["first"]["user"], result["first"]["auth_method"]) == (creds["member"], "token")
    assert result["code"] == CloseCode.NORMAL_CLOSURE


async def test_a_browser_sees_4401_for_a_bad_token(site, page) -> None:
    server, _ = site
    result = await open_socket(page, server, ["wsapp.token", "wsapp.token.forged"])
    assert (result["code"], result["reason"]) == (CloseCode.NOT_AUTHENTICATED, "Invalid token.")


async def test_the_pages_own_url_token_reaches_the_handler_beside_the_wsapp_token(site, page):
    # A browser can carry a credential of the project's own only in the URL: wsapp leaves it be.
    server, creds = site
    own = "sk_page-" + "x" * 20
    result = await open_socket(
        page,
        server,
        ["wsapp.token", f"wsapp.token.{creds['member_token']}"],
        f"/ws/whoami/?token={own}",
    )
    assert (result["first"]["user"], result["first"]["query_token"]) == (creds["member"], own)
    assert result["protocol"] == "wsapp.token"


async def test_without_the_marker_a_browser_fails_the_handshake(site, page) -> None:
    server, creds = site
    result = await open_socket(page, server, [f"wsapp.token.{creds['member_token']}"])
    assert result == {"code": CloseCode.ABNORMAL_CLOSURE, "reason": ""}


async def test_a_colon_separated_token_could_not_even_be_offered(site, page) -> None:
    server, creds = site
    token = creds["member_token"].replace(".", ":")
    assert await open_socket(page, server, [f"wsapp.token.{token}"]) == {"error": "SyntaxError"}
