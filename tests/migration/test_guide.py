"""docs/migrating.md and the ports stay in step: every handler the guide shows is one that the
tests here run, and every framework's ports are in the guide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
GUIDE = (HERE.parents[1] / "docs" / "migrating.md").read_text()
PORTS = {path.stem: path.read_text() for path in HERE.glob("*_ports.py")}
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)


def test_every_handler_in_the_guide_is_a_tested_port() -> None:
    shown = {
        name
        for block in BLOCKS
        for name in re.findall(r"^\s*(?:async def|def|class) (\w+)", block, re.M)
    }
    ported = "\n".join(PORTS.values())
    missing = sorted(name for name in shown if not re.search(rf"(def|class) {name}\b", ported))
    assert shown and not missing, f"docs/migrating.md shows handlers no port defines: {missing}"


@pytest.mark.parametrize(
    ("module", "heading"),
    [
        ("starlette_ports", "## Starlette"),
        ("sanic_ports", "## Sanic"),
        ("quart_ports", "## Quart"),
        ("blacksheep_ports", "## BlackSheep"),
        ("websockets_ports", "## `websockets`"),
    ],
)
def test_each_framework_has_its_ports_and_its_section(module: str, heading: str) -> None:
    assert module in PORTS
    assert f"\n{heading}" in GUIDE
    assert (HERE / f"test_{module.removesuffix('_ports')}.py").exists()
