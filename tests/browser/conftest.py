"""Fixtures of the browser tests: one Chromium for the package, a fresh demo server per test.

Playwright's sync API runs its own event loop inside greenlets, and while it is started that
loop counts as running on the main thread: pytest-asyncio cannot start a test's loop then. So the
sync browser lives for one module of plain test functions and is closed before the next module,
whose tests may be ``async`` (and use ``playwright.async_api`` themselves).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser.harness import (
    CHROMIUM_ARGS,
    WAIT_MS,
    DemoServer,
    require_chromium,
    seed_database,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (Playwright cannot download browsers here)."""
    executable = require_chromium()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, timeout=WAIT_MS * 3
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A migrated, seeded SQLite file (each test serves a copy) and the users' session keys."""
    path = tmp_path_factory.mktemp("browser-db") / "seeded.sqlite3"
    return path, seed_database(path)


@pytest.fixture
def demo_server(
    browser: Browser, seeded_db: tuple[Path, dict[str, str]], tmp_path: Path
) -> Iterator[DemoServer]:
    """The demo on a free port over a private copy of the seeded database; killed at the end."""
    template, sessions = seeded_db
    db_path = tmp_path / "db.sqlite3"
    shutil.copyfile(template, db_path)
    server = DemoServer(db_path=db_path, log_dir=tmp_path, sessions=sessions)
    server.start()
    yield server
    server.stop()
