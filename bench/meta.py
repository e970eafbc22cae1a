"""What a result is worth without its context: versions, machine, load, pinning."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PACKAGES = (
    "django",
    "channels",
    "daphne",
    "channels-redis",
    "uvicorn",
    "websockets",
    "starlette",
    "uvloop",
    "picows",
)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "-"
    try:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        found["redis-server"] = out.stdout.split("v=")[1].split()[0]
    except (OSError, IndexError):
        found["redis-server"] = "-"
    return found


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
    }


def commit(root: Path) -> str:
    """The checked-out commit (read only) and whether the tree had changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "-"
    return f"{head or 'no commit'}{' +changes' if dirty else ''}"


def source_hash(root: Path) -> str:
    """A digest of the Python source that runs (wsapp/, config/, consumers/, bench/servers/,
    bench/experiments/): two runs with the same digest measured the same code."""
    digest = hashlib.sha256()
    for folder in ("wsapp", "config", "consumers", "bench/servers", "bench/experiments"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def collect(
    root: Path, profile: str, server_cpus: Sequence[int], client_cpus: Sequence[int], workers: int
) -> dict[str, Any]:
    return {
        "stamp": time.strftime("%Y%m%d-%H%M%S"),
        "profile": profile,
        "commit": commit(root),
        "source": source_hash(root),
        "root": str(root),
        "versions": versions(),
        "machine": machine(),
        "server_cpus": list(server_cpus),
        "client_cpus": list(client_cpus),
        "client_processes": workers,
    }
