"""The package's shape, read from the source with ``ast``: no import cycles between modules, entry
points are leaves (nothing imports them, they do not import each other), metric classes import from
``functional`` and never the other way, files stay small, nothing points outside the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lit_heatmap"
ENTRY_POINTS = {"lit_heatmap.train", "lit_heatmap.eval", "lit_heatmap.predict", "lit_heatmap.export"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports at module level or in functions (``TYPE_CHECKING`` too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {n: imports(n, p, set(mods)) for n, p in mods.items()}


def test_imports_are_resolved() -> None:
    g = graph()
    assert "lit_heatmap.codecs.compat" in g["lit_heatmap.codecs"]
    assert "lit_heatmap.metrics.functional.topdown" in g["lit_heatmap.metrics.evaluator"]


def test_no_import_cycles_between_modules() -> None:
    """A package ``__init__`` re-exporting its modules is not a cycle; module -> module edges are."""
    g = {n: {m for m in deps if not modules()[m].name == "__init__.py"} for n, deps in graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g[n]):
            if state.get(m) == 1:
                cycle = stack[stack.index(m) :] + [m]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)


def test_entry_points_are_leaves() -> None:
    for name, deps in graph().items():
        bad = (deps & ENTRY_POINTS) - {name}
        assert not bad, f"{name} imports the entry point(s) {sorted(bad)}"


def test_metric_kernels_never_import_the_classes() -> None:
    for name, deps in graph().items():
        if name.startswith("lit_heatmap.metrics.functional"):
            up = {d for d in deps if d.startswith("lit_heatmap.metrics") and ".functional" not in d}
            assert not up, f"{name} imports {sorted(up)}"


def test_files_stay_small() -> None:
    long = {
        str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_nothing_points_outside_the_repository() -> None:
    pattern = re.compile(r"CONTRACT\.md|\.\./shared|shared/design")
    files = [
        *PACKAGE.rglob("*.py"),
        *(REPO / "conf").rglob("*.yaml"),
        REPO / "README.md",
        *(REPO / "docs").rglob("*.md"),
    ]
    hits = [
        f"{p.relative_to(REPO)}:{i}"
        for p in files
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
