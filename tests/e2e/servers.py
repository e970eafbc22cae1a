"""Real server processes for end-to-end tests: start, wait until listening, stop, kill.

Generic on purpose: the command (``manage.py serve``, plain ``daphne``, several processes),
the settings module and the environment are parameters, so the auth, rooms-with-Redis and
multi-process tests reuse it. Output goes to a file, not a pipe: a chatty server must never
block on a full pipe, and the file is shown when a start fails. The network helpers underneath
(a free port, waiting for it, stopping by PID) are :mod:`tests.support.network`'s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.network import (
    HOST,
    STOP_TIMEOUT,
    free_port,
    kill_process,
    stop_process,
    wait_for_port,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = "tests.e2e.settings_serve"
READY_TIMEOUT = 20.0


def server_env(
    settings_module: str, database_url: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a server process: ours, with its settings, database and ``extra``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
    )
    env.update(extra or {})
    return env


def serve_command(port: int, *args: str, host: str = HOST) -> list[str]:
    """``python manage.py serve --host HOST --port PORT ARGS...``."""
    return [sys.executable, "manage.py", "serve", "--host", host, "--port", str(port), *args]


def daphne_command(port: int, application: str, *args: str, host: str = HOST) -> list[str]:
    """``daphne -b HOST -p PORT ARGS... APPLICATION`` from this interpreter's environment."""
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), *args, application]


def migrate(database_url: str, settings_module: str = DEFAULT_SETTINGS) -> None:
    """Create the schema in ``database_url`` with ``manage.py migrate`` in a subprocess.

    Raises:
        RuntimeError: migrate failed; its output is in the message.
    """
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=server_env(settings_module, database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed ({result.returncode}):\n{result.stdout}{result.stderr}")


@dataclass
class ServerProcess:
    """One running server: its process, address and output."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    host: str = HOST
    command: Sequence[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        """``ws://host:port/path`` (or another scheme) on this server."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kib(self) -> int:
        """The process's resident memory (``VmRSS``) in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit; return its code.

        Raises:
            subprocess.TimeoutExpired: still running after ``timeout`` s (the process is then killed).
        """
        return stop_process(self.proc, sig, timeout)

    def kill(self) -> None:
        """SIGKILL by PID if still running, and reap it."""
        kill_process(self.proc)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until the port accepts connections.

        Raises:
            RuntimeError: the process exited or did not listen within ``timeout`` s; the
                message has its output.
        """
        if wait_for_port(self.host, self.port, timeout, alive=lambda: self.proc.poll() is None):
            return
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{' '.join(self.command)} exited with {self.proc.returncode} before "
                f"listening on {self.host}:{self.port}:\n{self.output()}"
            )
        self.kill()
        raise RuntimeError(
            f"{' '.join(self.command)} did not listen on {self.host}:{self.port} within "
            f"{timeout} s:\n{self.output()}"
        )


#: The ``start_server`` fixture's type (tests/e2e/conftest.py).
StartServer = Callable[..., "ServerProcess"]


def start_server(
    command: Sequence[str],
    port: int,
    env: Mapping[str, str],
    log_path: Path,
    *,
    host: str = HOST,
    cwd: Path = PROJECT_ROOT,
    ready_timeout: float = READY_TIMEOUT,
) -> ServerProcess:
    """Start ``command`` (which must listen on ``host:port``) and wait until it does."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    server = ServerProcess(proc=proc, port=port, log_path=log_path, host=host, command=command)
    try:
        server.wait_ready(ready_timeout)
    except BaseException:
        server.kill()
        raise
    return server


@contextmanager
def running_server(
    command: Callable[[int], Sequence[str]],
    env: Mapping[str, str],
    log_path: Path,
    *,
    cwd: Path = PROJECT_ROOT,
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[ServerProcess]:
    """``command(port)`` started on a free port and ready; killed by PID on the way out, pass
    or fail (for fixtures and tests that start a server outside the ``start_server`` fixture)::

        with running_server(serve_command, server_env(SETTINGS, database_url), log) as server:
            ...
    """
    port = free_port()
    server = start_server(command(port), port, env, log_path, cwd=cwd, ready_timeout=ready_timeout)
    try:
        yield server
    finally:
        server.kill()
