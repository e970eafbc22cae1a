"""wsapp's import graph: which module imports which, its cycles, and the modules over the size limit.

Run it to print the graph of a checkout (this one by default)::

    python -m tests.support.import_graph
    python -m tests.support.import_graph --root /tmp/before

The graph comes from grimp, import-linter's engine. It holds every import statement, including the
ones inside functions (a deferred import is still a dependency: it only hides a cycle from the
interpreter), and leaves out the ones under ``if TYPE_CHECKING:`` (they never run).
``tests/test_architecture.py`` asserts on the same functions: zero cycles, no module too long.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grimp

PACKAGE = "wsapp"

#: A module longer than this many lines does more than one job (STYLE.md rule 1).
MAX_MODULE_LINES = 400

Graph = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Cycle:
    """One strongly connected group of modules, and one import path that goes round it."""

    modules: tuple[str, ...]
    path: tuple[str, ...]

    def __str__(self) -> str:
        return " -> ".join(self.path)


@contextlib.contextmanager
def _importable_from(root: Path) -> Iterator[None]:
    """Put ``root`` first on ``sys.path`` so grimp reads that checkout's ``wsapp``.

    grimp finds the package through the import system; the venv's editable install points at
    another checkout, so ``root`` has to come before it.
    """
    sys.path.insert(0, str(root))
    cached = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == PACKAGE}
    for name in cached:
        del sys.modules[name]
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        sys.modules.update(cached)


def build(root: Path) -> Graph:
    """``{module: modules of wsapp it imports}`` for the ``wsapp`` package under ``root``."""
    with _importable_from(root):
        graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)
        return {
            module: frozenset(graph.find_modules_directly_imported_by(module))
            for module in sorted(graph.modules)
        }


def cycles(graph: Graph) -> list[Cycle]:
    """Every import cycle: Tarjan's strongly connected components of more than one module (or a
    module that imports itself), each with one path that starts and ends at its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[Cycle] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] != index[module]:
            return
        component: list[str] = []
        while True:
            member = stack.pop()
            on_stack.discard(member)
            component.append(member)
            if member == module:
                break
        if len(component) > 1 or module in graph.get(module, ()):
            members = tuple(sorted(component))
            found.append(Cycle(members, _path_round(graph, members)))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found, key=lambda cycle: cycle.modules)


def _path_round(graph: Graph, members: Sequence[str]) -> tuple[str, ...]:
    """The shortest import path from ``members[0]`` back to itself, inside the component."""
    start, inside = members[0], set(members)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for module in frontier:
            for imported in sorted(graph.get(module, ()) & inside):
                if imported == start:
                    path = [module]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return (*reversed(path), start)
                if imported not in came_from:
                    came_from[imported] = module
                    following.append(imported)
        frontier = following
    raise AssertionError(f"{members} is not a cycle")  # Tarjan only returns cycles


def long_modules(root: Path, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """``{path relative to root: line count}`` of the wsapp modules longer than ``limit``."""
    counts = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        if "migrations" in path.parts:
            continue  # generated by makemigrations, never edited
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            counts[str(path.relative_to(root))] = lines
    return counts


def render(graph: Graph, root: Path) -> str:
    """The graph as text: each module with what it imports inside wsapp, then the cycles."""
    lines = [f"# import graph of {PACKAGE} under {root} ({len(graph)} modules)", ""]
    for module, imported in graph.items():
        lines.append(f"{module}")
        lines.extend(f"    -> {name}" for name in sorted(imported))
    found = cycles(graph)
    lines += ["", f"# cycles: {len(found)}"]
    lines.extend(f"    {cycle}" for cycle in found)
    too_long = long_modules(root)
    lines += ["", f"# modules over {MAX_MODULE_LINES} lines: {len(too_long)}"]
    lines.extend(f"    {path}: {count}" for path, count in too_long.items())
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.import_graph", description=__doc__
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[2],
        help="the checkout whose wsapp/ to read (default: this one)",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / PACKAGE / "__init__.py").is_file():
        parser.error(f"{root} has no {PACKAGE}/__init__.py")
    print(render(build(root), root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
