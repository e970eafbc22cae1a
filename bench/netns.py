"""Linux network namespaces as stand-in hosts: one veth pair each to the root namespace.

Host ``i`` is the namespace ``wsbench-<pid>-h<i>``; its veth pair is ``wsb<pid>h<i>`` (root side,
``10.213.0.<4i+1>/30``) and ``wsb<pid>h<i>n`` (inside, ``10.213.0.<4i+2>/30``). Each /30 is a
point-to-point link: the root namespace reaches every host, no host reaches another (nothing is
forwarded), and nothing leaves the machine. Needs root (``ip netns``).

Everything made here is named with the creating PID, so a later run can tell its own leftovers
(from a run that was SIGKILLed before its cleanup) from a live run's, and removes only those.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "wsbench"
SUBNET = "10.213.0"
MAX_HOSTS = 64  # 64 /30s fill the /24
_NS = re.compile(rf"^{PREFIX}-(\d+)-h\d+$")
_VETH = re.compile(r"^wsb(\d+)h\d+n?$")


@dataclass(frozen=True)
class Host:
    """One namespace: where its processes listen (``addr``) and its root-side peer (``gateway``)."""

    index: int
    ns: str
    veth: str
    addr: str
    gateway: str

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run inside this host's namespace (``ip netns exec`` execs: same PID)."""
        return ["ip", "netns", "exec", self.ns, *command]


def ip(*args: str) -> str:
    """Run ``ip ARGS`` and return its output.

    Raises:
        RuntimeError: ``ip`` failed; its message is in the error.
    """
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def address(index: int) -> str:
    """Host ``index``'s address inside its namespace (its peer's is one lower)."""
    return f"{SUBNET}.{4 * index + 2}"


def create(count: int, pid: int | None = None) -> list[Host]:
    """``count`` namespaces, each linked to the root namespace, up and addressed.

    Raises:
        ValueError: more hosts than the /24 holds.
        RuntimeError: an ``ip`` command failed (what was made before it is left for `remove`,
            so the caller must call it whatever happens).
    """
    if count > MAX_HOSTS:
        raise ValueError(f"at most {MAX_HOSTS} hosts fit in {SUBNET}.0/24, not {count}")
    pid = os.getpid() if pid is None else pid
    hosts = []
    for i in range(count):
        addr = address(i)
        gateway = f"{SUBNET}.{4 * i + 1}"
        host = Host(i, f"{PREFIX}-{pid}-h{i}", f"wsb{pid}h{i}", addr, gateway)
        hosts.append(host)
        ip("netns", "add", host.ns)
        ip("link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}n")
        ip("link", "set", f"{host.veth}n", "netns", host.ns)
        ip("addr", "add", f"{host.gateway}/30", "dev", host.veth)
        ip("link", "set", host.veth, "up")
        ip("-n", host.ns, "addr", "add", f"{host.addr}/30", "dev", f"{host.veth}n")
        ip("-n", host.ns, "link", "set", f"{host.veth}n", "up")
        ip("-n", host.ns, "link", "set", "lo", "up")
    return hosts


def remove(hosts: Sequence[Host]) -> None:
    """Delete the namespaces and veth pairs of ``hosts`` (those that exist); never raises."""
    for host in hosts:
        _delete_namespace(host.ns)
        _delete_link(host.veth)


def _delete_namespace(ns: str) -> None:
    try:
        ip("netns", "delete", ns)  # takes the inner veth end, and with it the pair
    except RuntimeError:
        pass


def _delete_link(name: str) -> None:
    try:
        ip("link", "delete", name)
    except RuntimeError:
        pass


def _is_live_run(pid: int) -> bool:
    """``pid`` is a running ``bench.hosts`` (whose namespaces are not leftovers)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return pid != os.getpid() and b"bench.hosts" in cmdline


def remove_leftovers() -> list[str]:
    """Remove namespaces and root-side veths of earlier runs that are gone; return their names.

    A process still running in a leftover namespace was started by that earlier run: it is
    killed by PID (``ip netns pids``) first, so it cannot hold a port or a Redis entry.
    """
    removed = []
    for line in ip("netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NS.match(name)
        if match and not _is_live_run(int(match.group(1))):
            for pid in ip("netns", "pids", name).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _delete_namespace(name)
            removed.append(name)
    for line in ip("-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        match = _VETH.match(name)
        if match and not _is_live_run(int(match.group(1))):
            _delete_link(name)
            removed.append(name)
    return removed


def foreign_addresses() -> list[str]:
    """Addresses in ``SUBNET`` on the root namespace that no namespace of ours owns (a clash)."""
    clashes = []
    for line in ip("-o", "-4", "addr", "show").splitlines():
        fields = line.split()
        device, address = fields[1], fields[3]
        if address.startswith(f"{SUBNET}.") and not _VETH.match(device.split("@")[0]):
            clashes.append(f"{address} on {device}")
    return clashes
