"""The benchmark scripts are run by hand, not by the suite: a rename in the package must still not
break them. Every ``lit_heatmap`` name a script imports (at the top or inside a function) exists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _imports(path: Path) -> list[tuple[str, str]]:
    return [
        (node.module, alias.name)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lit_heatmap")
        for alias in node.names
    ]


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports_resolve(path: Path) -> None:
    missing = []
    for module, name in _imports(path):
        mod = importlib.import_module(module)
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ModuleNotFoundError:
                missing.append(f"from {module} import {name}")
    assert not missing, f"{path.name}: {missing}"


def test_a_missing_name_is_found(tmp_path: Path) -> None:
    """The check itself: the import that broke benchmarks/video.py once (a helper renamed away)."""
    script = tmp_path / "bench.py"
    script.write_text("def run():\n    from lit_heatmap.analyze import _meta\n")
    (module, name) = _imports(script)[0]
    assert not hasattr(importlib.import_module(module), name)
