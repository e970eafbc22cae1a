"""A throwaway PostgreSQL cluster on a free port, which a chaos test may restart.

Never the machine's shared server: ``initdb`` in a temporary directory, ``pg_ctl`` to start and
stop it, run as the ``postgres`` OS user (PostgreSQL refuses to run as root). Without the
binaries the tests skip with a loud reason locally and fail under CI (``CI=true``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.network import HOST, free_port
from tests.support.timing import scaled

OS_USER = "postgres"


def _missing(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def postgres_bin_dir() -> Path:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not found:
        _missing("PostgreSQL server binaries are missing (apt-get install postgresql)")
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        _missing(f"no {OS_USER!r} OS user to run a throwaway PostgreSQL as")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    part = Path(path).parents[1].name
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """``initdb`` once, then ``start``/``stop``/``restart`` on the same port and data."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        # Not under pytest's root-only tmp dirs: the postgres user must be able to enter it.
        self.root = Path(tempfile.mkdtemp(prefix="wsapp-chaos-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        user = pwd.getpwnam(OS_USER)
        os.chown(self.root, user.pw_uid, user.pw_gid)

    @property
    def url(self) -> str:
        """The maintenance database, as the superuser (trust auth on 127.0.0.1 only)."""
        return f"postgres://{OS_USER}@{HOST}:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        result = subprocess.run(
            ["runuser", "-u", OS_USER, "--", *argv],
            capture_output=True,
            text=True,
            timeout=scaled(timeout),
        )
        if result.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(f"{argv[0]} failed:\n{result.stdout}{result.stderr}\n{log}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            *("-D", str(self.data), "-U", OS_USER, "-A", "trust", "--no-sync"),
        )

    def start(self) -> None:
        """Start and wait until it accepts connections (``pg_ctl -w``)."""
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast``: disconnect every client, as a restart by an operator does)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop if running and delete the cluster's files."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
