"""Shared settings of the app tests: tiny overrides and console-script helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# a tiny, fast model and data set; every test adds its own overrides on top
TINY_DATA = [
    "dataset.train_size=32",
    "dataset.val_size=16",
    "dataset.batch_size=8",
    "dataset.num_workers=0",
    "dataset.input_size=[64,64]",
]
TINY_MODEL = ["backbone.name=regnetx_002"]
# extra head overrides for tests that keep the default head
TINY_HEAD: list[str] = []  # the default head (multiscale_sum64) is already small at 64x64
TINY_TRAIN = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.enable_progress_bar=false",
    "extras.print_config=false",
    "logger=csv",
    "seed=0",
]
TINY = TINY_DATA + TINY_MODEL + TINY_TRAIN

VENV_BIN = Path(sys.executable).parent


def cli(name: str) -> str:
    """Path of a console script of the installed package (the venv running the tests)."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.skip(f"console script {name} not installed in {VENV_BIN}")
    return str(path)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NO_ALBUMENTATIONS_UPDATE="1",
        WANDB_MODE="offline",
        HF_HUB_OFFLINE="1",
        WANDB_SILENT="true",
        HYDRA_FULL_ERROR="1",
        PYTHONWARNINGS="ignore",
    )
    return env
