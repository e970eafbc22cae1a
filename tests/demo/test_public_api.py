"""The demo project is a wsapp user like any other: it imports public names only.

Public is what ``wsapp/__init__.py`` declares: the names in ``wsapp.__all__`` and the modules in
``wsapp._PUBLIC_MODULES``, without their underscored names. Each module of ``config/`` and
``consumers/`` is parsed (not imported), so a deferred import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import wsapp

ROOT = Path(__file__).resolve().parents[2]
DEMO_MODULES = sorted(
    path.relative_to(ROOT)
    for folder in ("config", "consumers")
    for path in (ROOT / folder).rglob("*.py")
)

#: Internal imports the demo still has, each with the change that removes it. The test below
#: fails once an entry is no longer needed, so the list only shrinks.
KNOWN_INTERNAL: dict[tuple[str, str], str] = {}


def wsapp_imports(tree: ast.AST) -> Iterator[str]:
    """Each wsapp name an AST imports, dotted: ``wsapp.rooms.aonline``, ``wsapp.hub.hub``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "wsapp")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "wsapp":
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_public(dotted: str) -> bool:
    """Whether ``wsapp.x.name`` (or the module ``wsapp.x``) is public."""
    if dotted in wsapp._PUBLIC_MODULES:
        return True
    module, _, name = dotted.rpartition(".")
    if module == "wsapp":
        return name in wsapp.__all__ or f"wsapp.{name}" in wsapp._PUBLIC_MODULES
    return module in wsapp._PUBLIC_MODULES and not name.startswith("_")


def internal_imports() -> set[tuple[str, str]]:
    found = set()
    for path in DEMO_MODULES:
        for dotted in wsapp_imports(ast.parse((ROOT / path).read_text(), str(path))):
            if not is_public(dotted):
                found.add((path.as_posix(), dotted))
    return found


def test_the_demo_imports_public_wsapp_names_only() -> None:
    unexpected = internal_imports() - set(KNOWN_INTERNAL)
    assert unexpected == set(), "the demo imports internal wsapp names (see wsapp/__init__.py)"


def test_the_known_internal_imports_are_still_there() -> None:
    """An entry of KNOWN_INTERNAL that the demo no longer needs is deleted, not kept."""
    assert set(KNOWN_INTERNAL) <= internal_imports()


def test_the_demo_has_modules_to_check() -> None:
    assert Path("consumers/chat.py") in DEMO_MODULES
    assert Path("config/views.py") in DEMO_MODULES


@pytest.mark.parametrize(
    ("dotted", "public"),
    [
        ("wsapp.Consumer", True),
        ("wsapp.jsoncodec", True),
        ("wsapp.rooms.aonline", True),
        ("wsapp.routing.path", True),
        ("wsapp.rooms", True),
        ("wsapp.connection.WebSocket", False),
        ("wsapp.hub.hub.get_hub", False),
        ("wsapp.rooms._private", False),
        ("wsapp.hub", False),
        ("wsapp.Nope", False),
    ],
)
def test_is_public(dotted: str, public: bool) -> None:
    assert is_public(dotted) is public


def test_wsapp_imports_finds_deferred_and_plain_imports() -> None:
    tree = ast.parse(
        "import wsapp.rooms\nfrom wsapp import Consumer\nimport os\n"
        "def f():\n    from wsapp.hub.hub import get_hub\n"
    )
    assert sorted(wsapp_imports(tree)) == ["wsapp.Consumer", "wsapp.hub.hub.get_hub", "wsapp.rooms"]
