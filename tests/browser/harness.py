"""What the browser tests drive: Debian's Chromium, the real demo server, its SQLite file.

The server is the demo exactly as a newcomer runs it (``config.settings``, DEBUG on, ``manage.py
serve``), on a free port with its own migrated and seeded database file, so a test can SIGKILL
it and start it again on the same port with the same data underneath the open pages. The
database is also reached directly (stdlib ``sqlite3``) to do what no page can while the server is
down: write the messages a disconnected client must catch up on.
"""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.servers import PROJECT_ROOT, ServerProcess, serve_command, server_env, start_server
from tests.support.network import free_port

CHROMIUM = Path(os.environ.get("WSAPP_CHROMIUM", "/usr/bin/chromium"))
#: Flags for a headless Chromium in a container: no sandbox (root), no GPU, and nothing that
#: phones home (the machine has no internet; a blocked request must not slow a test down).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTINGS = "config.settings"
# The README's screenshots are what the tests saw. Refreshing them is a deliberate act
# (`WSAPP_SCREENSHOTS=docs/screenshots make test`), so an ordinary run leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("WSAPP_SCREENSHOTS") or tempfile.gettempdir() + "/wsapp-screenshots"
)
if not SCREENSHOTS.is_absolute():
    SCREENSHOTS = PROJECT_ROOT / SCREENSHOTS
#: Upper bound of any single wait in these tests, in milliseconds.
WAIT_MS = 10_000
#: A reconnect waits out its backoff (capped at 10 s in wsapp.js) after a server restart.
RECONNECT_MS = 20_000


def require_chromium(path: Path = CHROMIUM, env: Mapping[str, str] = os.environ) -> Path:
    """``path`` if Chromium is installed; otherwise skip — or fail under CI.

    A skipped browser test on a CI machine would hide that nothing was tested: there, a missing
    browser is an error in the CI image, reported as a failure.
    """
    if path.exists():
        return path
    message = (
        f"Chromium not found at {path}: install it with `apt-get install chromium` "
        "(or point WSAPP_CHROMIUM at a Chromium binary)."
    )
    if env.get("CI", "").lower() == "true":
        pytest.fail(f"{message} CI=true, so this is a failure, not a skip.", pytrace=False)
    pytest.skip(message)


def demo_env(database_url: str) -> dict[str, str]:
    """The environment of the demo's own processes: its settings, DEBUG on, this database."""
    return server_env(SETTINGS, database_url, {"DJANGO_DEBUG": "1", "REDIS_URL": ""})


#: One Django start-up for the whole setup: migrate, ``seed_demo``, then log the seeded users in
#: ahead of time as Django's test ``Client.force_login`` does, printing ``{username: session
#: key}`` — a PBKDF2 password check costs ~0.4 s, which every test would otherwise pay per user.
#: (One test still logs in through the form.)
_SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("seed_demo")
keys = {}
for user in get_user_model().objects.filter(username__in=["alice", "bob", "admin"]):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys[user.username] = session.session_key
print(json.dumps(keys))
"""


def seed_database(path: Path) -> dict[str, str]:
    """Migrate ``path``, run ``seed_demo`` into it (users alice/bob/admin, three rooms) and log
    the users in; returns their session keys.

    Raises:
        RuntimeError: seeding failed; its output is in the message.
    """
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-startup", "-c", _SEED],
        cwd=PROJECT_ROOT,
        env=demo_env(f"sqlite:///{path}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding {path} failed:\n{result.stdout}{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@dataclass
class DemoServer:
    """``manage.py serve`` of the demo on one port, which survives a kill and a restart."""

    db_path: Path
    log_dir: Path
    sessions: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: ServerProcess | None = None
    starts: int = 0
    #: Browser contexts opened against this server, closed before it is killed at the end of
    #: the test: a page left behind would keep reconnecting, perhaps to a later test's server.
    contexts: list[BrowserContext] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def start(self) -> None:
        """Start on :attr:`port` and wait until it listens."""
        self.starts += 1
        self.process = start_server(
            serve_command(self.port),
            self.port,
            demo_env(f"sqlite:///{self.db_path}"),
            self.log_dir / f"serve-{self.port}-{self.starts}.log",
        )

    def kill(self) -> None:
        """SIGKILL by PID: no drain, no close frames — the pages see 1006."""
        if self.process is not None:
            self.process.kill()

    def output(self) -> str:
        return self.process.output() if self.process is not None else ""

    def new_context(self, browser: Browser, **options: Any) -> BrowserContext:
        """A browser context with this server as its base URL, closed at :meth:`stop`."""
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=self.base_url, **options)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        return context

    def stop(self) -> None:
        """Close this test's browser contexts, then kill the server."""
        for context in self.contexts:
            context.close()
        self.kill()

    # -- the database underneath -----------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the server's database file and commit."""
        with closing(sqlite3.connect(self.db_path, timeout=10)) as db, db:
            return db.execute(sql, params).fetchall()

    def add_message(self, room: str, username: str, body: str) -> int:
        """Store a chat message behind the server's back (as another process would); its id."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.query(
            "INSERT INTO wsapp_message (room_id, user_id, body, client_id, created_at) VALUES ("
            "(SELECT id FROM wsapp_room WHERE slug = ?), "
            "(SELECT id FROM auth_user WHERE username = ?), ?, '', ?)",
            (room, username, body, now),
        )
        return int(self.query("SELECT max(id) FROM wsapp_message")[0][0])

    def count_messages(self, body: str) -> int:
        return int(self.query("SELECT count(*) FROM wsapp_message WHERE body = ?", (body,))[0][0])


# -- pages -------------------------------------------------------------------------------------


def new_user_context(
    browser: Browser, server: DemoServer, username: str, *, via_form: bool = False, **options: Any
) -> BrowserContext:
    """A fresh browser profile (its own cookie jar) logged in as ``username``: through the
    login form, or with the session ``seed_database`` made for the user."""
    context = server.new_context(browser, **options)
    if not via_form:
        cookie = {"name": "sessionid", "value": server.sessions[username], "url": server.base_url}
        context.add_cookies([cookie])  # type: ignore[list-item]
        return context
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(server.url("/"))
    expect(page.locator(".account-name")).to_have_text(username)
    page.close()
    return context


def open_room(
    context: BrowserContext,
    slug: str,
    dialogs: list[str] | None = None,
    sockets: list[str] | None = None,
) -> Page:
    """A page on ``/rooms/<slug>/``, live, with ``slug``'s subscription live too; JavaScript
    dialogs are recorded in ``dialogs``, the URL of each WebSocket it opens in ``sockets``."""
    page = context.new_page()
    watch_dialogs(page, dialogs if dialogs is not None else [])
    if sockets is not None:
        page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"/rooms/{slug}/")
    expect(badge(page)).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    expect(rail(page, slug)).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    return page


def watch_dialogs(page: Page, dialogs: list[str]) -> None:
    """Record and dismiss every alert/confirm/prompt: an XSS payload that runs shows up here."""

    def record(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", record)


def badge(page: Page) -> Any:
    return page.locator("#connection")


def rail(page: Page, slug: str) -> Any:
    """``slug``'s link in the sidebar: ``data-status`` is its subscription's, ``.unread`` its count."""
    return page.locator(f".rooms-rail a[data-room={slug}]")


def switch_room(page: Page, slug: str) -> None:
    """Click ``slug`` in the sidebar and wait until it is the room in view."""
    rail(page, slug).click()
    expect(page.locator("#chat")).to_have_attribute("data-room", slug)
    expect(rail(page, slug)).to_have_attribute("aria-current", "page")


def say(page: Page, body: str) -> None:
    """Type ``body`` into the composer and press Enter."""
    page.fill("#composer-input", body)
    page.press("#composer-input", "Enter")


def bodies(page: Page, body: str) -> Any:
    """The message bodies on ``page`` whose text is exactly ``body``."""
    return page.locator("#messages").get_by_text(body, exact=True)


def screenshot(page: Page, name: str) -> Path:
    """Save ``<SCREENSHOTS>/<name>`` (``docs/screenshots`` when refreshing the README's)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path
