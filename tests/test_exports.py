"""wsapp's public surface is written once (``wsapp/__init__.py``) and these tests keep it whole.

The model is websockets' ``tests/test_exports.py``: ``__all__``, the lazy table and the
``TYPE_CHECKING`` imports list the same names, and each resolves to the object its module
defines. The tests read where a name lives from the table, so moving a name to another module
is a change to ``wsapp/__init__.py`` only.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import wsapp

INIT = Path(wsapp.__file__)
LAZY_NAMES = sorted(wsapp._LAZY)


def type_checking_imports() -> dict[str, str]:
    """``{name: module}`` of the ``from module import name`` lines under ``if TYPE_CHECKING:``."""
    found: dict[str, str] = {}
    for node in ast.parse(INIT.read_text()).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                assert statement.module is not None
                found.update((alias.name, statement.module) for alias in statement.names)
    return found


def test_all_is_the_lazy_table_and_the_version() -> None:
    assert sorted(wsapp.__all__) == sorted([*wsapp._LAZY, "__version__"])
    assert len(wsapp.__all__) == len(set(wsapp.__all__)), "a name is listed twice"


def test_type_checking_imports_agree_with_the_lazy_table() -> None:
    assert type_checking_imports() == wsapp._LAZY


@pytest.mark.parametrize("name", LAZY_NAMES)
def test_each_public_name_resolves_to_its_module_object(name: str) -> None:
    module = importlib.import_module(wsapp._LAZY[name])
    assert getattr(wsapp, name) is getattr(module, name)


def test_every_name_in_all_resolves() -> None:
    for name in wsapp.__all__:
        assert getattr(wsapp, name) is not None, name


def test_dir_lists_the_public_names() -> None:
    assert set(wsapp.__all__) <= set(dir(wsapp))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'wsapp' has no attribute 'Nope'"):
        wsapp.Nope  # noqa: B018


def test_a_public_submodule_still_imports_through_from_wsapp() -> None:
    from wsapp import jsoncodec

    assert jsoncodec is importlib.import_module("wsapp.jsoncodec")


@pytest.mark.parametrize("module", sorted(wsapp._PUBLIC_MODULES))
def test_each_public_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_each_public_name_lives_in_a_module_of_the_package() -> None:
    assert {module.split(".")[0] for module in wsapp._LAZY.values()} == {"wsapp"}


def test_import_wsapp_loads_no_submodule_and_no_django_app() -> None:
    """``import wsapp`` runs from settings modules, before Django's app registry is ready."""
    code = (
        "import sys, wsapp; "
        "print(sorted(m for m in sys.modules if m.startswith(('wsapp.', 'django', 'channels'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=INIT.parents[1],
    )
    assert result.stdout.strip() == "[]"
