"""The demo in production mode, deployed by README's production checklist word for word.

``DJANGO_DEBUG=0``, WhiteNoise serving what ``collectstatic`` wrote, two ``manage.py serve``
processes sharing the test's own ``redis-server`` and a fresh PostgreSQL database; Chromium logs
in through the form with the random passwords ``seed_demo`` printed, chats across the processes,
sees presence, switches rooms over its one socket, and survives one process being SIGKILLed and
started again.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

from tests.browser.harness import (
    RECONNECT_MS,
    WAIT_MS,
    badge,
    bodies,
    open_room,
    rail,
    say,
    switch_room,
)
from tests.e2e.cluster import postgres_database as _postgres_database
from tests.e2e.servers import PROJECT_ROOT, ServerProcess, server_env, start_server
from tests.support.network import free_port

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SETTINGS = "config.settings"
#: A fresh PostgreSQL database on ``TEST_DATABASE_URL``'s server, dropped afterwards.
postgres_database = contextmanager(_postgres_database)


def checklist_commands() -> list[list[str]]:
    """The ``python manage.py ...`` lines of README's production checklist, as argv lists."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("## Production checklist") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the production checklist has no bash block"
    commands = [
        shlex.split(line.rstrip(" &"))
        for line in block.group(1).splitlines()
        if line.startswith("python manage.py ")
    ]
    assert [c[2] for c in commands][:4] == ["check", "migrate", "collectstatic", "seed_demo"]
    return commands


@dataclass
class Deployment:
    """The processes the checklist started, their environment, and what ``seed_demo`` printed."""

    env: dict[str, str]
    log_dir: Path
    passwords: dict[str, str]
    serve_argv: list[list[str]]
    servers: list[ServerProcess | None] = field(default_factory=lambda: [None, None])
    ports: list[int] = field(default_factory=list)
    starts: int = 0

    def start(self, index: int) -> ServerProcess:
        self.starts += 1
        port = self.ports[index]
        argv = [sys.executable, *self.serve_argv[index][1:]]
        bind = argv.index("--bind")
        argv[bind + 1] = f"127.0.0.1:{port}"
        server = start_server(
            argv, port, self.env, self.log_dir / f"serve-{index}-{self.starts}.log"
        )
        self.servers[index] = server
        return server

    def url(self, index: int, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[index]}{path}"


def _run(argv: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{shlex.join(argv)}:\n{result.stdout}{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def deployment(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_DATABASE_URL is not set; .ci/run provides a PostgreSQL server.")
        pytest.skip("TEST_DATABASE_URL is not set: the production test needs PostgreSQL.")
    log_dir = tmp_path_factory.mktemp("production")
    with postgres_database(base) as database_url:
        env = server_env(
            SETTINGS,
            database_url,
            {
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": "browser-production-test-" + "k" * 40,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DJANGO_STATIC_ROOT": str(log_dir / "staticfiles"),
                "REDIS_URL": redis_url,
            },
        )
        commands = checklist_commands()
        printed = {argv[2]: _run(argv, env) for argv in commands if argv[2] != "serve"}
        passwords = dict(re.findall(r"^\s+(alice|bob|admin)\s+(\S+)", printed["seed_demo"], re.M))
        assert set(passwords) == {"alice", "bob", "admin"}, printed["seed_demo"]
        assert "alice-demo" not in passwords.values(), "DEBUG-off passwords are random"
        serve = [argv for argv in commands if argv[2] == "serve"]
        assert len(serve) == 2 and all("--proxy-headers" in argv for argv in serve), serve
        deployment = Deployment(
            env=env,
            log_dir=log_dir,
            passwords=passwords,
            serve_argv=serve,
            ports=[free_port(), free_port()],
        )
        try:
            deployment.start(0)
            deployment.start(1)
            yield deployment
        finally:
            for server in deployment.servers:
                if server is not None:
                    server.kill()


@dataclass
class Watched:
    """What went wrong on a page: failed or refused requests, script errors."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        def response(r: Response) -> None:
            if r.status >= 400:
                self.problems.append(f"{r.status} {r.url}")

        page.on("response", response)
        page.on("requestfailed", lambda r: self.problems.append(f"failed {r.url}"))
        page.on("pageerror", lambda error: self.problems.append(f"script error {error}"))
        return page


def login(
    browser: Browser, deployment: Deployment, index: int, username: str, watched: Watched
) -> BrowserContext:
    context = browser.new_context(base_url=deployment.url(index))
    context.set_default_timeout(WAIT_MS)
    page = watched.watch(context.new_page())
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", deployment.passwords[username])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(deployment.url(index, "/"))
    expect(page.locator(".account-name")).to_have_text(username)
    page.close()
    context.on("page", watched.watch)
    return context


def test_the_checklist_deployment_chats_across_processes_and_survives_a_killed_one(
    browser: Browser, deployment: Deployment
) -> None:
    watched = Watched()
    alice_context = login(browser, deployment, 0, "alice", watched)
    bob_context = login(browser, deployment, 1, "bob", watched)
    try:
        alice = open_room(alice_context, "lobby")
        bob = open_room(bob_context, "lobby")
        expect(alice.locator("#presence li[data-user=bob]")).to_be_visible()
        expect(bob.locator("#presence li[data-user=alice]")).to_be_visible()

        say(alice, "From process one")
        expect(bodies(bob, "From process one")).to_have_count(1)
        say(bob, "And back from process two")
        expect(bodies(alice, "And back from process two")).to_have_count(1)

        killed = deployment.servers[1]
        assert killed is not None
        killed.kill()  # bob's process: SIGKILL, no drain
        expect(badge(bob)).to_have_attribute("data-status", "reconnecting")
        say(alice, "While bob's process was dead")
        expect(alice.locator("#messages .msg.pending")).to_have_count(0)  # acknowledged
        deployment.start(1)  # same port, same database, same Redis
        expect(badge(bob)).to_have_attribute("data-status", "live", timeout=RECONNECT_MS)
        expect(bodies(bob, "While bob's process was dead")).to_have_count(1)
        expect(bob.locator("#presence li[data-user=alice]")).to_be_visible()
        say(bob, "Back on a new process")
        expect(bodies(alice, "Back on a new process")).to_have_count(1)

        # Every room over the one socket, across the processes: bob switches, alice counts.
        switch_room(bob, "random")
        say(bob, "In random, from process two")
        expect(rail(alice, "random").locator(".unread")).to_have_text("1")
        switch_room(alice, "random")
        expect(bodies(alice, "In random, from process two")).to_have_count(1)
        expect(rail(alice, "random").locator(".unread")).to_be_hidden()
    finally:
        alice_context.close()
        bob_context.close()
    assert watched.problems == []
    for server in deployment.servers:
        assert server is not None
        assert "Traceback" not in server.output(), server.output()
