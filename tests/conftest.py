"""Shared pytest setup: offline environment, the `slow` marker, and paths to the real samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before any test module imports albumentations / wandb / timm.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_SILENT", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real-format samples (coco/ and wflw/ in their original layouts, a few images each): the folder named
# by LIT_HEATMAP_SAMPLES, else shared/data beside the repository (where CI puts it); see README "Tests".
SHARED_DATA = Path(os.environ.get("LIT_HEATMAP_SAMPLES", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running tests (CI runs them too)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-format samples folder (COCO / WFLW); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-format samples not found at {SHARED_DATA} (set LIT_HEATMAP_SAMPLES; README 'Tests')")
    return SHARED_DATA


@pytest.fixture(scope="session")
def coco_root(shared_data: Path) -> Path:
    root = shared_data / "coco"
    if not (root / "annotations" / "person_keypoints_val2017.json").is_file():
        pytest.skip(f"COCO sample not found under {root}")
    return root


@pytest.fixture(scope="session")
def wflw_root(shared_data: Path) -> Path:
    root = shared_data / "wflw"
    if not (root / "WFLW_annotations").is_dir():
        pytest.skip(f"WFLW sample not found under {root}")
    return root
