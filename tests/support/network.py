"""Network and process helpers shared by every suite that runs real processes.

A free port, whether a port accepts connections, waiting until it does, and stopping or
killing a process by its PID (never by name: other engineers' and CI's processes share the
machine). ``tests/e2e/servers.py`` (servers), ``tests/support/redis.py`` (Redis) and the chaos,
security and browser suites build on these instead of keeping their own loops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

from tests.support.timing import POLL, scaled

HOST = "127.0.0.1"
#: Seconds a process gets to exit after SIGTERM or SIGKILL before the helper gives up.
STOP_TIMEOUT = 15.0


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


def wait_for_port(
    host: str, port: int, timeout: float, *, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Block until ``host:port`` accepts connections; ``timeout`` is scaled by the machine.

    Returns:
        True once it listens; False if ``alive()`` turns false first (the process exited) or
        the time is up. The caller says which, with the process's output.
    """
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if not alive():
            return False
        if port_accepts(host, port):
            return True
        time.sleep(POLL)  # the same poll as timing.wait_until's, blocking: no loop runs here
    return False


def stop_process(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT
) -> int:
    """Send ``sig`` by PID if it still runs, and wait for the exit; return its code.

    Raises:
        subprocess.TimeoutExpired: still running after ``timeout`` s (scaled); it is then killed.
    """
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        kill_process(proc)
        raise


def kill_process(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """SIGKILL by PID if it still runs (a crash: no goodbye to anyone), and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=scaled(timeout))
