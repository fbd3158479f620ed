"""Loader defaults: workers = the CPUs available to the process (at most 16), for every dataset config;
persistent workers; pinned memory only when a GPU trains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lit_heatmap.data import Synthetic
from lit_heatmap.data.datamodule import MAX_DEFAULT_WORKERS, KeypointDataModule, default_num_workers

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def test_default_workers_follow_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    assert default_num_workers() == 6
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert default_num_workers() == MAX_DEFAULT_WORKERS == 16
    assert default_num_workers(cap=8) == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert default_num_workers() == 1


def test_the_datamodule_uses_the_default_and_an_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(5)), raising=False)
    dm = KeypointDataModule(Synthetic(8), batch_size=4)
    assert dm.num_workers == 5 and dm.persistent_workers
    loader = dm.train_dataloader()
    assert loader.num_workers == 5 and loader.persistent_workers
    assert loader.pin_memory is False  # no trainer on a GPU (and no CUDA here)
    assert KeypointDataModule(Synthetic(8), batch_size=4, num_workers=0).train_dataloader().num_workers == 0
    with pytest.raises(ValueError, match="dataset.num_workers"):
        KeypointDataModule(Synthetic(8), num_workers=-1)


@pytest.mark.parametrize("name", sorted(p.stem for p in CONF.glob("*.yaml")))
def test_every_dataset_config_defaults_to_the_cpu_count(name: str) -> None:
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert cfg.num_workers is None, f"conf/dataset/{name}.yaml: num_workers should be null (the CPU default)"
    node = OmegaConf.to_container(cfg.datamodule, resolve=False)
    assert node["num_workers"] == "${dataset.num_workers}"
    assert node["pin_memory"] is None and node["persistent_workers"] is True
