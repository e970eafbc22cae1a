"""The attack table, row by row, against one real ``manage.py serve`` of the demo.

Each row is what an attacker tries at the handshake or right after it — a foreign or disguised
Origin, a forged, tampered or foreign-key token, a forged session cookie, a room they may not
enter — and the exact answer: an HTTP 403 before any credential is looked at, or an accepted
socket closed with the 44xx code and reason a browser can read. Nothing may crash on the way:
the server's output has no traceback at the end.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.servers import PROJECT_ROOT, ServerProcess, running_server, serve_command, server_env
from wsapp.codes import CloseCode

pytestmark = [pytest.mark.e2e]

SETTINGS = "tests.e2e.settings_serve"
SECRET = "attack-table-server-key-" + "s" * 40
_ENV = {"DJANGO_SECRET_KEY": SECRET, "DJANGO_DEBUG": "0"}

#: Made in the server's database (and signed with its key, or deliberately with another).
_SETUP = """
import json, sys
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from wsapp.models import Membership, Room
from wsapp.tokens import make_token
prefix = sys.argv[1]
User = get_user_model()
member = User.objects.create(username=f"{prefix}-member")
banned = User.objects.create(username=f"{prefix}-banned")
public = Room.objects.create(slug=f"{prefix}-public", title="Public")
private = Room.objects.create(slug=f"{prefix}-private", title="Private", is_private=True)
archived = Room.objects.create(slug=f"{prefix}-archived", title="Archived", is_archived=True)
Membership.objects.create(room=public, user=banned, is_banned=True)
def session(user):
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    return s.session_key
with override_settings(SECRET_KEY="some-other-deployment-" + "o" * 40):
    foreign = make_token(member)
print(json.dumps({
    "member_session": session(member), "banned_session": session(banned),
    "member_token": make_token(member), "foreign_token": foreign,
    "public": public.slug, "private": private.slug, "archived": archived.slug,
}))
"""


@pytest.fixture(scope="module")
def server(
    e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One demo ``manage.py serve`` (DEBUG off) for the whole table."""
    log = tmp_path_factory.mktemp("attack-table") / "serve.log"
    env = server_env(SETTINGS, e2e_database_url, _ENV)
    with running_server(serve_command, env, log) as process:
        yield process
    assert "Traceback" not in process.output(), process.output()


@pytest.fixture(scope="module")
def victims(e2e_database_url: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", _SETUP, f"atk-{secrets.token_hex(3)}"],
        cwd=PROJECT_ROOT,
        env=server_env(SETTINGS, e2e_database_url, _ENV),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def outcome(server: ServerProcess, path: str, headers: dict[str, str]) -> Any:
    """``("http", status)`` for a refused handshake, ``(code, reason)`` for an accepted socket
    the server then closed, ``("open", first frame type)`` for one that stays open."""
    try:
        async with connect(
            server.url(path), additional_headers=headers, open_timeout=10, proxy=None
        ) as ws:
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except ConnectionClosed:
                return ws.close_code, ws.close_reason
            return "open", first["type"]
    except InvalidStatus as refused:
        return "http", refused.response.status_code


def same_origin(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"


ORIGINS = [
    pytest.param("https://evil.example", ("http", 403), id="foreign"),
    # Autobahn already refuses these two as unparsable, before wsapp's check: 400.
    pytest.param("null", ("http", 400), id="null-sandboxed-iframe"),
    pytest.param("http://127.0.0.1.evil.example", ("http", 403), id="allowed-host-as-prefix"),
    pytest.param("http://evil.example#127.0.0.1", ("http", 403), id="allowed-host-in-fragment"),
    pytest.param("http://127.0.0.1@evil.example", ("http", 403), id="allowed-host-as-userinfo"),
    pytest.param("http://evil.example\\@127.0.0.1", ("http", 403), id="backslash-confusion"),
    pytest.param("file://", ("http", 400), id="file-scheme-without-host"),
    pytest.param(None, ("open", "history"), id="control-same-origin-gets-in"),
]


@pytest.mark.parametrize(("origin", "expected"), ORIGINS)
async def test_a_disguised_origin_is_refused_before_any_credential(
    server: ServerProcess, victims: dict[str, str], origin: str | None, expected: Any
) -> None:
    headers = {
        "Origin": origin or same_origin(server),
        "Cookie": f"sessionid={victims['member_session']}",
    }
    assert await outcome(server, f"/ws/chat/{victims['public']}/", headers) == expected


def _tampered(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


CREDENTIALS: list[Any] = [
    pytest.param(
        lambda v: {"Authorization": f"Bearer {_tampered(v['member_token'])}"},
        (CloseCode.NOT_AUTHENTICATED, "Invalid token."),
        id="tampered-token",
    ),
    pytest.param(
        lambda v: {"Authorization": f"Bearer {v['foreign_token']}"},
        (CloseCode.NOT_AUTHENTICATED, "Invalid token."),
        id="token-signed-by-another-key",
    ),
    # Not shaped like a wsapp token, so not wsapp's to judge: it passes through, and the connection
    # is as anonymous as it would be without it (never the credential's claimed user).
    pytest.param(
        lambda v: {"Authorization": "Bearer " + secrets.token_urlsafe(40)},
        (CloseCode.NOT_AUTHENTICATED, "Log in to read '{public}'."),
        id="random-token",
    ),
    # A session the server does not know is anonymous, and the demo's rooms are not for
    # anonymous readers (as their pages are not).
    pytest.param(
        lambda v: {"Cookie": "sessionid=" + secrets.token_hex(16)},
        (CloseCode.NOT_AUTHENTICATED, "Log in to read '{public}'."),
        id="forged-session-cookie",
    ),
    pytest.param(
        lambda v: {"Cookie": f"sessionid={v['member_session']}x"},
        (CloseCode.NOT_AUTHENTICATED, "Log in to read '{public}'."),
        id="altered-session-cookie",
    ),
    pytest.param(
        lambda v: {"Authorization": f"Bearer {v['member_token']}"},
        ("open", "history"),
        id="control-a-good-token-gets-in",
    ),
]


@pytest.mark.parametrize(("credentials", "expected"), CREDENTIALS)
async def test_a_forged_credential_is_refused_with_4401(
    server: ServerProcess, victims: dict[str, str], credentials: Any, expected: Any
) -> None:
    headers = {"Origin": same_origin(server), **credentials(victims)}
    code, reason = expected
    expected = (code, reason.format(**victims))
    assert await outcome(server, f"/ws/chat/{victims['public']}/", headers) == expected


ROOMS = [
    pytest.param("member_session", "private", CloseCode.FORBIDDEN, id="private-room-non-member"),
    pytest.param("member_session", "archived", CloseCode.ROOM_CLOSED, id="archived-room"),
    pytest.param("banned_session", "public", CloseCode.FORBIDDEN, id="banned-user"),
    pytest.param("member_session", None, CloseCode.ROOM_NOT_FOUND, id="no-such-room"),
]


@pytest.mark.parametrize(("session", "room", "code"), ROOMS)
async def test_a_room_one_may_not_enter_closes_with_its_code(
    server: ServerProcess, victims: dict[str, str], session: str, room: str | None, code: int
) -> None:
    headers = {"Origin": same_origin(server), "Cookie": f"sessionid={victims[session]}"}
    slug = victims[room] if room else "atk-no-such-room"
    got = await outcome(server, f"/ws/chat/{slug}/", headers)
    assert got[0] == code, got
    assert got[1], "a refusal says why"


@pytest.mark.parametrize(
    ("session", "code"),
    [
        pytest.param(None, CloseCode.NOT_AUTHENTICATED, id="anonymous"),
        pytest.param("member_session", CloseCode.FORBIDDEN, id="not-staff"),
    ],
)
async def test_the_dashboard_socket_is_for_staff_only(
    server: ServerProcess, victims: dict[str, str], session: str | None, code: int
) -> None:
    headers = {"Origin": same_origin(server)}
    if session:
        headers["Cookie"] = f"sessionid={victims[session]}"
    got = await outcome(server, "/ws/dashboard/", headers)
    assert got[0] == code, got
