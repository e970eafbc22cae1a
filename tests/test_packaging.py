"""``pip install .`` gives exactly the ``wsapp`` package and its declared dependencies."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def build_wheel(tmp_path: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(PROJECT_ROOT),
        ],
        check=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("wsapp-*.whl")
    return wheel


def test_the_wheel_ships_only_wsapp_with_its_templates_static_and_migrations(
    tmp_path: Path,
) -> None:
    names = zipfile.ZipFile(build_wheel(tmp_path)).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"wsapp"}
    for required in (
        "wsapp/py.typed",
        "wsapp/static/wsapp/wsapp.js",
        "wsapp/migrations/0001_initial.py",
        "wsapp/templates/admin/wsapp/room/change_form.html",
        "wsapp/management/commands/serve.py",
    ):
        assert required in names
    assert not any(name.startswith(("config/", "consumers/", "tests/", "bench/")) for name in names)


def test_the_wheel_requires_django_channels_daphne_and_makes_redis_an_extra(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        (metadata_name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(wheel.read(metadata_name).decode())
    requires = metadata.get_all("Requires-Dist")
    assert "django<5.3,>=5.2" in [r.lower() for r in requires]
    assert any(r.startswith("channels<4.4,>=4.3") for r in requires)
    assert any(r.startswith("daphne") for r in requires)
    redis = [r for r in requires if r.startswith("channels-redis")]
    assert redis and all("extra == 'redis'" in r for r in redis)
    assert "redis" in metadata.get_all("Provides-Extra")
