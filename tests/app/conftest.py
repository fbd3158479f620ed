"""Fixtures of the app tests: configs composed with Hydra's compose API (lightning-hydra-template
style), shrunk so that a training run takes seconds on 2 CPU cores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from tests.app.app_helpers import TINY, TINY_HEAD


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

    def make(
        overrides: list[str] | tuple[str, ...] = (),
        config_name: str = "train",
        tiny: bool = True,
        out: Path | None = None,
    ) -> DictConfig:
        base = TINY if (tiny and config_name == "train") else []
        if base and not any(o.split("=")[0].lstrip("+~") in ("head", "encoding", "experiment") for o in overrides):
            base = base + TINY_HEAD
        return compose_cfg(config_name, [*base, *overrides], out or tmp_path)

    yield make
    GlobalHydra.instance().clear()
