"""Server processes: start on a free port, pinned with ``taskset``, sampled, stopped by PID.

CPU time and memory come from ``/proc`` and cover the server's whole process tree, so a server that
forks workers is measured whole. Stopping walks the same tree and signals each PID it started,
never a process name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ServerFailed(RuntimeError):
    """The server exited or never listened; ``str()`` ends with the tail of its log."""


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; racy only in theory)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_list(cpus: Sequence[int]) -> str:
    """``taskset -c`` syntax."""
    return ",".join(str(c) for c in cpus)


@dataclass
class Server:
    """One started process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(
    name: str,
    argv: Sequence[str],
    *,
    cpus: Sequence[int],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
) -> Server:
    """Start ``argv`` under ``taskset -c cpus`` with its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            ["taskset", "-c", cpu_list(cpus), *argv],
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the runner's terminal is the runner's alone
        )
    return Server(name, popen, log)


def wait_listening(
    server: Server, port: int, timeout: float = 30.0, host: str = "127.0.0.1"
) -> None:
    """Return once host:port accepts TCP connections, or raise `ServerFailed`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.popen.poll() is not None:
            raise ServerFailed(
                f"{server.name} exited with {server.popen.returncode}:\n{server.log_tail()}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerFailed(f"{server.name} did not listen on {host}:{port} in {timeout:.0f}s")


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of ``pids`` (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _CLK_TCK


def busy_seconds(cpus: Sequence[int]) -> float:
    """CPU time spent on ``cpus`` by anything at all (/proc/stat, less idle and iowait)."""
    total = 0
    wanted = {f"cpu{c}" for c in cpus}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name in wanted:
            ticks = [int(f) for f in fields[:8]]
            total += sum(ticks) - ticks[3] - ticks[4]
    return total / _CLK_TCK


def rss_bytes(pids: Sequence[int]) -> int:
    """Resident set size of ``pids``, from ``VmRSS`` in /proc/PID/status."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: with the PID, it names one process even if PIDs are reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def stop(server: Server, timeout: float = 5.0) -> None:
    """SIGTERM the server, then SIGKILL whatever of its tree is left, each by PID."""
    children = [(pid, _start_time(pid)) for pid in tree(server.pid)[1:]]
    if server.popen.poll() is None:
        server.popen.send_signal(signal.SIGTERM)
        try:
            server.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            server.popen.kill()
            server.popen.wait(timeout)
    for pid, started in children:
        if started is not None and _start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
