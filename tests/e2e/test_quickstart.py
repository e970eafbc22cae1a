"""README's quickstart, verbatim, in a brand-new ``django-admin startproject``.

The snippets are read out of README.md itself, so the README cannot drift from what works: a
new project, nothing else configured, served by ``manage.py serve``, talked to over a socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.e2e.servers import PROJECT_ROOT, running_server, serve_command

pytestmark = pytest.mark.e2e


def readme_files() -> dict[str, str]:
    """``{"settings.py": ..., "asgi.py": ..., "routing.py": ...}`` from README's Quickstart."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") :]
    quickstart = quickstart[: quickstart.index("\n## ", 3)]
    files: dict[str, str] = {}
    for block in re.findall(r"```python\n(.*?)```", quickstart, re.S):
        for name, body in re.findall(r"# mysite/(\w+\.py)\n(.*?)(?=\n# mysite/|\Z)", block, re.S):
            files[name] = body.strip() + "\n"
    assert set(files) == {"settings.py", "asgi.py", "routing.py"}, files.keys()
    return files


@pytest.fixture
def mysite(tmp_path: Path) -> Path:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": ""}
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
        check=True,
        env=env,
        timeout=60,
    )
    files = readme_files()
    package = tmp_path / "mysite"
    with open(package / "settings.py", "a") as settings:
        settings.write("\n" + files["settings.py"])
    (package / "asgi.py").write_text(files["asgi.py"])
    (package / "routing.py").write_text(files["routing.py"])
    return tmp_path


def project_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="mysite.settings", PYTHONPATH=str(root))
    return env


def test_the_quickstart_checks_clean_and_reverses(mysite: Path) -> None:
    env = project_env(mysite)
    check = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=mysite,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "System check identified no issues" in check.stdout
    reverse = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from wsapp.routing import reverse; print(reverse('square', n=7))",
        ],
        cwd=mysite,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reverse.stdout.strip() == "/ws/square/7/", reverse.stderr


def test_the_quickstart_serves_square_over_a_real_socket(mysite: Path, tmp_path: Path) -> None:
    with running_server(
        serve_command, project_env(mysite), tmp_path / "serve.log", cwd=mysite
    ) as server:

        async def talk() -> list[dict[str, object]]:
            async with connect(server.url("/ws/square/7/"), open_timeout=10) as ws:
                replies = []
                for text in ("hi", "again"):
                    await ws.send(text)
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                return replies

        assert asyncio.run(talk()) == [
            {"n": 7, "sq": 49, "got": "hi"},
            {"n": 7, "sq": 49, "got": "again"},
        ]
    assert "Traceback" not in server.output()
