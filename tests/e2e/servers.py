"""Real server processes for end-to-end tests: start, wait until listening, stop, kill.

Generic on purpose: the command (``manage.py serve``, plain ``daphne``, several processes),
the settings module and the environment are parameters, so the auth, rooms-with-Redis and
multi-process tests reuse it. Output goes to a file, not a pipe: a chatty server must never
block on a full pipe, and the file is shown when a start fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = "tests.e2e.settings_serve"
HOST = "127.0.0.1"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
_POLL = 0.05


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


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
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL by PID if still running, and reap it."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Block until the port accepts connections.

        Raises:
            RuntimeError: the process exited or did not listen within ``timeout`` s; the
                message has its output.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {self.proc.returncode} before "
                    f"listening on {self.host}:{self.port}:\n{self.output()}"
                )
            if port_accepts(self.host, self.port):
                return
            time.sleep(_POLL)
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
