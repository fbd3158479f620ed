"""The package's shape, read from the source with ``ast``: no import cycles between modules, entry
points are leaves (nothing imports them, they do not import each other), metric classes import from
``functional`` and never the other way, the LightningModule and the deploy module are imported only by
the few modules that use their classes, files stay small, nothing points outside the repository, and
every ``:class:``/``:func:``/``:meth:`` reference in a docstring names something that exists."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "lit_heatmap"
ENTRY_POINTS = {"lit_heatmap.train", "lit_heatmap.eval", "lit_heatmap.predict", "lit_heatmap.export"}
MAX_LINES = 400
# The LightningModule (lit_heatmap.module) and the deploy module (lit_heatmap.inference, the exported
# graph and OnnxPredictor) are imported for their classes only, by these; a helper either of them holds
# belongs in its concept's module (codecs/, data/geometry.py, ...), where anyone may import it.
MAY_IMPORT = {
    "lit_heatmap.module": ENTRY_POINTS | {"lit_heatmap.utils.checkpoint"},
    "lit_heatmap.inference": ENTRY_POINTS | {"lit_heatmap.analyze", "lit_heatmap.video"},
}


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


def test_the_module_and_the_deploy_file_are_imported_only_for_their_classes() -> None:
    g = graph()
    for target, allowed in MAY_IMPORT.items():
        bad = sorted(n for n, deps in g.items() if target in deps and n not in allowed)
        assert not bad, f"{bad} import {target}; move the helper they need out of it (allowed: {sorted(allowed)})"


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


ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`([^`]+)`")


@functools.cache
def _instance_attributes(cls: Any) -> set[str]:
    """The ``self.<name> = ...`` attributes a class assigns in its methods."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return set()
    return {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
        if isinstance(n.value, ast.Name) and n.value.id == "self"
    }


def _found(root: Any, parts: list[str]) -> bool:
    """``root.a.b.c`` exists, the last name possibly an instance attribute of the class ``root.a.b``."""
    for i, p in enumerate(parts):
        if not hasattr(root, p):
            return i == len(parts) - 1 and inspect.isclass(root) and p in _instance_attributes(root)
        root = getattr(root, p)
    return True


def _importable(parts: list[str]) -> bool:
    """A dotted name of an importable module, or of something in one."""
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        return _found(module, parts[i:])
    return False


def _resolves(target: str, module: ModuleType, classes: list[str], package: list[ModuleType]) -> bool:
    """Sphinx's lookup, roughly: the full dotted name, then from the enclosing classes, the docstring's
    module, and any module of the package (a name the package defines somewhere)."""
    parts = target.split("<")[-1].rstrip(">").strip().lstrip("~!.").removesuffix("()").split(".")
    scopes: list[Any] = []
    for c in classes:
        scopes.insert(0, getattr(scopes[0] if scopes else module, c, None))
    scopes += [module, *package]
    return _importable(parts) or any(s is not None and _found(s, parts) for s in scopes)


def _references(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(target, enclosing class names) of every cross-reference in a module's docstrings."""
    out: list[tuple[str, list[str]]] = []

    def walk(node: ast.AST, classes: list[str]) -> None:
        if isinstance(node, ast.ClassDef):
            classes = [*classes, node.name]
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            out.extend((t, classes) for t in ROLE.findall(ast.get_docstring(node, clean=False) or ""))
        for child in ast.iter_child_nodes(node):
            walk(child, classes)

    walk(tree, [])
    return out


def test_docstring_references_name_what_exists() -> None:
    package = {n: importlib.import_module(n) for n in modules()}
    stale = [
        f"{p.relative_to(REPO)}: `{target}`"
        for name, p in modules().items()
        for target, classes in _references(ast.parse(p.read_text()))
        if not _resolves(target, package[name], classes, list(package.values()))
    ]
    assert not stale, f"docstring references to names that do not exist: {stale}"


def test_the_reference_check_tells_stale_names_from_live_ones() -> None:
    codecs = importlib.import_module("lit_heatmap.codecs.heatmap2d")
    package = [importlib.import_module("lit_heatmap.codecs")]
    for live, classes in [("affine", ["Heatmap2D"]), ("~lit_heatmap.codecs.flip_output", []), ("Hybrid", [])]:
        assert _resolves(live, codecs, classes, package), live
    assert _resolves("KeypointEvaluator.results", importlib.import_module("lit_heatmap.metrics.evaluator"), [], [])
    for stale in ("lit_heatmap.codecs.Heatmap3D", "affine", "Heatmap2D.nothing", "check_loss"):
        assert not _resolves(stale, codecs, [], package), stale
