"""Fixtures that run real server processes on free ports (see :mod:`tests.e2e.servers`).

``e2e_database_url``: one SQLite file per test session, migrated once.
``start_server``: a factory; every process it starts is killed by PID at teardown::

    server = start_server("serve", wsapp={"COMPRESSION": False})
    server = start_server("daphne", application="config.asgi:application")
    server = start_server([...any command...], port=port)

``serve_server``: ``manage.py serve`` with the e2e settings, started once per test.
``cluster_database_url``: a migrated, seeded database several processes share (from
:mod:`tests.e2e.cluster`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster import cluster_database_url  # noqa: F401 (a fixture of the e2e tests)
from tests.e2e.servers import (
    DEFAULT_SETTINGS,
    ServerProcess,
    StartServer,
    daphne_command,
    migrate,
    serve_command,
    server_env,
)
from tests.e2e.servers import start_server as _start_server
from tests.support.network import free_port


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database shared by the session's server processes."""
    path = tmp_path_factory.mktemp("e2e-db") / "db.sqlite3"
    url = f"sqlite:///{path}"  # an absolute path: sqlite:////tmp/...
    migrate(url)
    return url


@pytest.fixture
def start_server(e2e_database_url: str, tmp_path: Path) -> Iterator[StartServer]:
    """Start server processes; all are killed by PID when the test ends."""
    started: list[ServerProcess] = []
    counter = itertools.count()

    def start(
        command: str | Sequence[str] = "serve",
        *args: str,
        settings: str = DEFAULT_SETTINGS,
        wsapp: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        application: str = "tests.e2e.asgi_apps:application",
        port: int | None = None,
        ready_timeout: float = 20.0,
    ) -> ServerProcess:
        """Start ``serve``, ``daphne`` or an explicit command on ``port`` (a free one by default).

        Args:
            command: "serve", "daphne", or the full argv of a command listening on ``port``.
            args: extra arguments for "serve"/"daphne".
            settings: the ``DJANGO_SETTINGS_MODULE`` of the process.
            wsapp: ``WSAPP`` overrides, passed as JSON in ``WSAPP_E2E`` (see settings_serve).
            env: more environment variables.
            application: the ASGI application "daphne" serves.
        """
        port = free_port() if port is None else port
        if command == "serve":
            argv = serve_command(port, *args)
        elif command == "daphne":
            argv = daphne_command(port, application, *args)
        else:
            argv = list(command)
        extra = dict(env or {})
        if wsapp:
            extra["WSAPP_E2E"] = json.dumps(dict(wsapp))
        log_path = tmp_path / f"server-{next(counter)}-{port}.log"
        server = _start_server(
            argv,
            port,
            server_env(settings, e2e_database_url, extra),
            log_path,
            ready_timeout=ready_timeout,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def serve_server(start_server: StartServer) -> ServerProcess:
    """``manage.py serve`` with the e2e settings."""
    return start_server("serve")
