"""The shape of wsapp's imports: no cycles, and no module that does too many jobs.

import-linter (``make lint``) checks the layers; these two rules hold for every module, whatever
layer it is in, and run with the unit tests. The graph includes imports inside functions: a
deferred import hides a cycle from the interpreter, not from a reader.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import import_graph
from tests.support.import_graph import MAX_MODULE_LINES, Cycle

ROOT = Path(__file__).resolve().parents[1]


def test_wsapp_has_no_import_cycles() -> None:
    found = import_graph.cycles(import_graph.build(ROOT))
    assert found == [], "import cycles:\n" + "\n".join(f"  {cycle}" for cycle in found)


def test_no_wsapp_module_is_over_the_line_limit() -> None:
    too_long = import_graph.long_modules(ROOT)
    assert too_long == {}, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_cycles_reports_each_cycle_with_its_path() -> None:
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a", "d"}),
        "d": frozenset(),
        "e": frozenset({"e"}),
    }
    assert import_graph.cycles(graph) == [
        Cycle(("a", "b", "c"), ("a", "b", "c", "a")),
        Cycle(("e",), ("e", "e")),
    ]


def test_cycles_of_a_dag_is_empty() -> None:
    graph = {"a": frozenset({"b", "c"}), "b": frozenset({"c"}), "c": frozenset()}
    assert import_graph.cycles(graph) == []


def test_the_graph_includes_deferred_imports_and_leaves_out_type_checking_ones(
    tmp_path: Path,
) -> None:
    package = tmp_path / "wsapp"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wsapp import b\n"
    )
    (package / "a.py").write_text("def f():\n    from wsapp import b\n")
    (package / "b.py").write_text("")
    assert import_graph.build(tmp_path) == {
        "wsapp": frozenset(),
        "wsapp.a": frozenset({"wsapp.b"}),
        "wsapp.b": frozenset(),
    }


def documented_modules() -> set[str]:
    """The paths in the first column of docs/architecture.md's module table (``x/`` for a
    package documented as a whole)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Modules of `wsapp/`", 1)[1].split("\n## ", 1)[0]
    paths: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            paths.update(re.findall(r"`([^`]+)`", first_cell))
    return paths


def undocumented_and_missing(documented: set[str], root: Path) -> tuple[list[str], list[str]]:
    """wsapp's modules without a row, and rows without a module (or package) on disk."""
    package = root / "wsapp"
    packages = {path for path in documented if path.endswith("/")}
    modules = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts
    )
    undocumented = [
        module
        for module in modules
        if module not in documented and not any(module.startswith(p) for p in packages)
    ]
    missing = sorted(path for path in documented if not (package / path).exists())
    return undocumented, missing


def test_the_module_table_of_docs_architecture_matches_wsapp_one_to_one() -> None:
    undocumented, missing = undocumented_and_missing(documented_modules(), ROOT)
    assert (undocumented, missing) == ([], []), (
        f"modules without a row in docs/architecture.md: {undocumented}; "
        f"rows without a module: {missing}"
    )


def test_the_module_table_check_sees_both_directions(tmp_path: Path) -> None:
    package = tmp_path / "wsapp"
    (package / "server").mkdir(parents=True)
    for name in ("__init__.py", "codes.py", "extra.py", "server/__init__.py", "server/x.py"):
        (package / name).write_text("")
    documented = {"__init__.py", "codes.py", "server/", "gone.py"}
    assert undocumented_and_missing(documented, tmp_path) == (["extra.py"], ["gone.py"])
