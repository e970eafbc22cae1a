"""The demo as production runs it: ``DJANGO_DEBUG=0``, collected static files, any ASGI server,
a reverse proxy in front, and logs a collector can read.

Each test here failed on the first landing: static files were 404 without DEBUG, ``daphne
config.asgi:application`` raised ``ImproperlyConfigured``, a forged ``X-Forwarded-For`` read the
metrics, and wsapp's log lines had no time.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.e2e.servers import (
    PROJECT_ROOT,
    ServerProcess,
    StartServer,
    daphne_command,
    running_server,
    server_env,
)
from wsapp.publish_view import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature

pytestmark = pytest.mark.e2e

DEMO_SETTINGS = "config.settings"
#: A timestamp at the start of a log line: ``2026-12-01 21:05:37,123``.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def production_env(static_root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What README's production checklist exports (the database is the caller's)."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "e2e-production-test-key-not-secret-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_STATIC_ROOT": str(static_root),
        "REDIS_URL": "",
        **(extra or {}),
    }


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET, errors included (a 403 is an answer, not a raise)."""
    return _answer(urllib.request.Request(url, headers=dict(headers or {})))


def post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a JSON POST of ``body``, errors included."""
    headers = {"Content-Type": "application/json", **headers}
    return _answer(urllib.request.Request(url, data=body, headers=headers, method="POST"))


def _answer(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def collected_static(tmp_path: Path, e2e_database_url: str) -> Path:
    """``manage.py collectstatic`` into a fresh STATIC_ROOT, as the production path runs it."""
    static_root = tmp_path / "staticfiles"
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=server_env(DEMO_SETTINGS, e2e_database_url, production_env(static_root)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return static_root


def test_without_debug_the_pages_scripts_and_wsapp_js_are_served(
    start_server: StartServer, collected_static: Path
) -> None:
    server = start_server("serve", settings=DEMO_SETTINGS, env=production_env(collected_static))
    status, _, page = get(server.url("/accounts/login/", "http"))
    assert status == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.decode())
    # The import map names wsapp.js and the demo's modules; the page names its own script.
    assets += re.findall(r'"(/static/[^"]+\.js)"', page.decode())
    assert any(re.fullmatch(r"/static/wsapp/wsapp\.[0-9a-f]{12}\.js", a) for a in assets), assets
    assert any(a.startswith("/static/demo/login.") for a in assets), assets
    for asset in sorted(set(assets)):
        status, headers, body = get(server.url(asset, "http"))
        assert status == 200, asset
        assert body, asset
        # Content-hashed names never change meaning: browsers may keep them for good.
        assert "max-age=315360000" in headers["Cache-Control"], (asset, headers)
    status, _, body = get(server.url("/static/wsapp/wsapp.js", "http"))
    assert status == 200
    assert b"WsappSocket" in body
    assert "Traceback" not in server.output()


def _unconfigured_env(database_url: str, static_root: Path) -> dict[str, str]:
    """A shell that names no settings module: only what the ASGI module itself sets."""
    env = server_env(DEMO_SETTINGS, database_url, production_env(static_root))
    del env["DJANGO_SETTINGS_MODULE"]
    return env


def test_daphne_serves_config_asgi_without_a_settings_variable(
    e2e_database_url: str, collected_static: Path, tmp_path: Path
) -> None:
    with running_server(
        lambda port: daphne_command(port, "config.asgi:application"),
        _unconfigured_env(e2e_database_url, collected_static),
        tmp_path / "daphne.log",
    ) as server:
        status, _, _ = get(server.url("/accounts/login/", "http"))
        assert status == 200, server.output()

        async def echo() -> str:
            async with connect(server.url("/ws/echo/"), open_timeout=10) as ws:
                await ws.send("over plain daphne")
                return str(await asyncio.wait_for(ws.recv(), 10))

        assert asyncio.run(echo()) == "over plain daphne"
    assert "ImproperlyConfigured" not in server.output()
    assert "Traceback" not in server.output()


SCRAPER = "10.9.8.7"  # the only address METRICS_ALLOWED_IPS lets in, in these tests
METRICS = "/wsapp/metrics"


def _metrics_server(start_server: StartServer, *args: str, **wsapp: object) -> ServerProcess:
    return start_server("serve", *args, wsapp={"METRICS_ALLOWED_IPS": [SCRAPER], **wsapp})


def test_a_forged_forwarded_for_does_not_read_the_metrics(start_server: StartServer) -> None:
    # The test client is 127.0.0.1 and claims to be the scraper; it is no trusted proxy.
    server = _metrics_server(start_server, "--proxy-headers", TRUSTED_PROXIES=["192.0.2.1"])
    status, _, body = get(server.url(METRICS, "http"), {"X-Forwarded-For": SCRAPER})
    assert status == 403
    assert b"METRICS_ALLOWED_IPS" in body


def test_without_proxy_headers_forwarded_for_is_ignored(start_server: StartServer) -> None:
    server = _metrics_server(start_server)
    assert get(server.url(METRICS, "http"), {"X-Forwarded-For": SCRAPER})[0] == 403


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        pytest.param(SCRAPER, 200, id="the-proxy-saw-the-scraper"),
        # The client wrote the scraper's address itself; the proxy appended the real peer.
        pytest.param(f"{SCRAPER}, 198.51.100.20", 403, id="client-prefixed-the-scraper"),
        pytest.param("198.51.100.20", 403, id="another-client"),
    ],
)
def test_a_trusted_proxy_is_believed_for_the_hop_it_appended(
    start_server: StartServer, forwarded_for: str, status: int
) -> None:
    server = _metrics_server(start_server, "--proxy-headers")  # 127.0.0.1 is trusted by default
    assert get(server.url(METRICS, "http"), {"X-Forwarded-For": forwarded_for})[0] == status


def test_every_wsapp_log_line_under_serve_has_a_timestamp(
    start_server: StartServer, collected_static: Path
) -> None:
    server = start_server("serve", settings=DEMO_SETTINGS, env=production_env(collected_static))
    server.stop()
    lines = [line for line in server.output().splitlines() if " wsapp" in line]
    assert any("wsapp serve listening on" in line for line in lines), server.output()
    assert all(TIMESTAMP.match(line) for line in lines), lines


def test_a_project_without_logging_gets_timestamped_wsapp_lines_under_serve(
    start_server: StartServer,
) -> None:
    # tests.settings has a bare LOGGING: wsapp's loggers are not handled by the project.
    server = start_server("serve", settings="tests.settings", env={"DJANGO_DEBUG": "0"})
    server.stop()
    lines = [line for line in server.output().splitlines() if "wsapp serve listening on" in line]
    assert len(lines) == 1, server.output()
    assert TIMESTAMP.match(lines[0]), lines


# -- POST /wsapp/publish/ without DEBUG ---------------------------------------------------------

PUBLISH = "/wsapp/publish/"
PUBLISH_SECRET = "e2e-production-publish-secret-0123456789abcdef"
PUBLISH_TOKEN = "e2e-production-publish-token-0123456789abcdef"


@pytest.fixture
def publishing_server(start_server: StartServer, collected_static: Path) -> ServerProcess:
    """The demo with ``DJANGO_DEBUG=0`` under ``serve``, publishing on (a secret and a token)."""
    return start_server(
        "serve",
        env=production_env(collected_static),
        wsapp={"PUBLISH_SECRET": PUBLISH_SECRET, "PUBLISH_TOKEN": PUBLISH_TOKEN},
    )


def signed(body: bytes) -> dict[str, str]:
    """The headers of a request signed with the secret, as README's curl example signs it."""
    stamp = str(int(time.time()))
    return {SIGNATURE_HEADER: signature(PUBLISH_SECRET, stamp, body), TIMESTAMP_HEADER: stamp}


def test_without_debug_a_publish_reaches_a_member_over_a_real_socket(
    publishing_server: ServerProcess,
) -> None:
    server = publishing_server
    by_token = json.dumps({"room": "alerts", "data": {"type": "deploy", "at": 5}}).encode()
    raw = json.dumps({"room": "alerts", "data": "AAPL 187.2", "raw": True}).encode()
    requests = [(by_token, {"Authorization": f"Bearer {PUBLISH_TOKEN}"}), (raw, signed(raw))]

    async def member() -> tuple[list[tuple[int, Any]], list[str]]:
        async with connect(server.url("/ws/broadcast/alerts/"), open_timeout=10) as ws:
            # Publishing is live only: the member's own round trip proves it has joined.
            await ws.send("here")
            joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert joined == {"type": "message", "body": "here"}
            answers = []
            for body, headers in requests:
                url = server.url(PUBLISH, "http")
                status, _, answer = await asyncio.to_thread(post, url, body, headers)
                answers.append((status, json.loads(answer)))
            return answers, [str(await asyncio.wait_for(ws.recv(), 10)) for _ in requests]

    answers, received = asyncio.run(member())
    # The broadcast room's sockets join without presence: delivered to, not counted.
    assert answers == [
        (200, {"room": "alerts", "raw": False, "connections": 0, "users": 0}),
        (200, {"room": "alerts", "raw": True, "connections": 0, "users": 0}),
    ]
    assert [json.loads(received[0]), received[1]] == [{"type": "deploy", "at": 5}, "AAPL 187.2"]
    assert "Traceback" not in server.output()


def test_without_debug_a_bad_publish_is_its_documented_json_error(
    publishing_server: ServerProcess,
) -> None:
    server = publishing_server
    # DEBUG is really off: an unknown URL gets the plain 404, not the debug page's URL list.
    status, _, page = get(server.url("/no-such-page/", "http"))
    assert (status, b"URLconf" in page) == (404, False)
    token = {"Authorization": f"Bearer {PUBLISH_TOKEN}"}
    valid = b'{"room": "alerts", "data": 1}'  # refused for its credential alone
    requests = [
        (b"{not json", token),
        (b'{"room": "alerts"}', token),
        (b'{"room": "no spaces", "data": 1}', token),
        (valid, {"Authorization": "Bearer wrong"}),
        (valid, {SIGNATURE_HEADER: "sha256=00", TIMESTAMP_HEADER: str(int(time.time()))}),
        (valid, {}),
    ]
    answers = []
    for body, headers in requests:
        status, response_headers, answer = post(server.url(PUBLISH, "http"), body, headers)
        assert response_headers["Content-Type"] == "application/json", answer
        error = json.loads(answer)
        assert set(error) == {"error", "message"}, error
        answers.append((status, error["error"]))
    assert answers == [
        (400, "invalid_json"),
        (400, "invalid_fields"),
        (400, "invalid_fields"),
        (401, "bad_token"),
        (401, "bad_signature"),
        (401, "not_authenticated"),
    ]
    assert "Traceback" not in server.output()
