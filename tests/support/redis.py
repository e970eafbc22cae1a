"""A private ``redis-server`` on a free port that a test can kill and restart on the same port.

``tests/conftest.py`` builds its ``redis_url`` (one per session) and ``redis_server`` (one per
test, for the tests that take Redis away) fixtures from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.network import HOST, free_port, kill_process, stop_process, wait_for_port


def redis_binary() -> str:
    """The ``redis-server`` path; skips loudly without one, fails under CI (``CI=true``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


class RedisServer:
    """One ``redis-server`` without persistence: a restart comes back empty, like a crash."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = redis_binary()
        self.workdir = workdir
        self.port = free_port() if port is None else port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited (a test may have killed it)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def start(self) -> None:
        """Start on this server's port and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir), "--logfile", str(self.log_path)),
            ],
        )
        proc = self.proc
        if not wait_for_port(HOST, self.port, 10, alive=lambda: proc.poll() is None):
            kill_process(proc)
            log = self.log_path.read_text() if self.log_path.exists() else ""
            pytest.fail(f"redis-server did not start on port {self.port}: {log}")

    def kill(self) -> None:
        """SIGKILL (a crash: no goodbye to clients), by PID, and reap it."""
        if self.proc is not None:
            kill_process(self.proc)

    def stop(self) -> None:
        """SIGTERM by PID and reap it (teardown)."""
        if self.proc is not None:
            stop_process(self.proc)
