"""The shared network helpers: a free port, waiting for it, stopping a process by PID."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from tests.support.network import (
    HOST,
    free_port,
    kill_process,
    port_accepts,
    stop_process,
    wait_for_port,
)


def test_a_free_port_accepts_nothing_until_something_listens() -> None:
    port = free_port()
    assert not port_accepts(HOST, port)
    with socket.socket() as listener:
        listener.bind((HOST, port))
        listener.listen()
        assert port_accepts(HOST, port)
        assert wait_for_port(HOST, port, 1)


def test_wait_for_port_gives_up_when_the_process_is_gone() -> None:
    assert wait_for_port(HOST, free_port(), 10, alive=lambda: False) is False


def test_wait_for_port_gives_up_at_the_deadline() -> None:
    assert wait_for_port(HOST, free_port(), 0.1) is False


def test_stop_process_returns_the_exit_code_and_kill_reaps() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    stopped = subprocess.Popen(sleeper)
    assert stop_process(stopped) == -signal.SIGTERM
    killed = subprocess.Popen(sleeper)
    kill_process(killed)
    assert killed.returncode == -signal.SIGKILL
    kill_process(killed)  # a second kill of a reaped process is a no-op
