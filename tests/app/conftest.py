"""Fixtures of the app tests: configs composed with Hydra's compose API (lightning-hydra-template
style), shrunk so that a training run takes seconds on 2 CPU cores."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

# a tiny, fast model and data set; every test adds its own overrides on top
TINY_DATA = [
    "dataset.train_size=32",
    "dataset.val_size=16",
    "dataset.batch_size=8",
    "dataset.num_workers=0",
    "dataset.input_size=[64,64]",
]
TINY_MODEL = ["backbone.name=regnetx_002"]
# a narrow deconv head (only when the test keeps head=deconv)
TINY_HEAD = ["head.deconv_channels=32"]
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


def compose_cfg(config_name: str, overrides: list[str], out_dir: Path) -> DictConfig:
    """Composes ``conf/<config_name>.yaml`` with ``overrides`` and points every output at ``out_dir``;
    sets the Hydra runtime (choices, output_dir) the entry points read."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="lit_heatmap.conf", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out_dir)
        cfg.hydra.runtime.cwd = str(out_dir)
        cfg.hydra.job.num = 0
    HydraConfig().set_config(cfg)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """``make_cfg(overrides, config_name="train", tiny=True)`` -> composed config writing under tmp_path."""

    def make(overrides: list[str] | tuple[str, ...] = (), config_name: str = "train", tiny: bool = True,
             out: Path | None = None) -> DictConfig:  # fmt: skip
        base = TINY if (tiny and config_name == "train") else []
        if base and not any(o.split("=")[0].lstrip("+~") in ("head", "encoding", "experiment") for o in overrides):
            base = base + TINY_HEAD
        return compose_cfg(config_name, [*base, *overrides], out or tmp_path)

    yield make
    GlobalHydra.instance().clear()


def cli(name: str) -> str:
    """Path of a console script of the installed package (the venv running the tests)."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.skip(f"console script {name} not installed in {VENV_BIN}")
    return str(path)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(NO_ALBUMENTATIONS_UPDATE="1", WANDB_MODE="offline", HF_HUB_OFFLINE="1", WANDB_SILENT="true",
               HYDRA_FULL_ERROR="1", PYTHONWARNINGS="ignore")  # fmt: skip
    return env
