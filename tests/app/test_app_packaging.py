"""The wheel ships the config tree as ``lit_heatmap.conf`` (the console scripts need it)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """pyproject lists the packages explicitly (setuptools cannot remap conf/ and use find); a new
    subpackage must be added there or the wheel silently lacks it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "lit_heatmap").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    missing = found - listed
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    assert "lit_heatmap.conf" in listed


@pytest.mark.slow
def test_wheel_contains_the_config_tree(tmp_path: Path) -> None:
    res = subprocess.run(
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
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = tmp_path.glob("lit_heatmap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    yamls = {"lit_heatmap/conf/" + p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml")}
    assert "lit_heatmap/conf/train.yaml" in yamls and "lit_heatmap/conf/experiment/coco_hrnet_w32_256x192.yaml" in yamls
    assert yamls <= names, sorted(yamls - names)
    assert "lit_heatmap/conf/__init__.py" in names and "lit_heatmap/train.py" in names
