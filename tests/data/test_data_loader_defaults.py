"""Loader defaults: workers = the CPUs available to the process (at most 16), for every dataset config;
persistent workers; pinned memory only when a GPU trains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
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


class _Indices(torch.utils.data.Dataset):
    """Sample i is i (enough to see which indices an epoch visits)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return {"i": i}


@pytest.mark.parametrize("shuffle", [True, False])
def test_min_epoch_samples_repeats_a_small_training_set(shuffle: bool) -> None:
    """10 samples, at least 25 per epoch: 3 whole passes (30 samples; batch 4, drop_last: 7 batches), each
    sample exactly 3 times; without shuffling in order 0..9 thrice; validation is one pass."""
    dm = KeypointDataModule(
        _Indices(10), val=_Indices(10), batch_size=4, num_workers=0, shuffle=shuffle, min_epoch_samples=25
    )
    dm._meta = object()  # type: ignore[assignment] (no DatasetMeta needed for loaders)
    batches = list(dm.train_dataloader())
    seen = [int(i) for b in batches for i in b["i"]]
    assert len(batches) == 7 and len(seen) == 28
    full = [int(i) for i in dm.train_dataloader().sampler]
    assert sorted(full) == sorted(list(range(10)) * 3)
    if shuffle:
        assert all(sorted(full[p * 10 : (p + 1) * 10]) == list(range(10)) for p in range(3))  # whole permutations
    else:
        assert full == list(range(10)) * 3
    assert sum(len(b["i"]) for b in dm.val_dataloader()) == 10
    # a training set already as large: one pass, the plain shuffling loader
    assert (
        len(KeypointDataModule(_Indices(30), batch_size=4, num_workers=0, min_epoch_samples=25).train_dataloader()) == 7
    )
    with pytest.raises(ValueError, match="min_epoch_samples must be positive"):
        KeypointDataModule(_Indices(3), min_epoch_samples=0)


@pytest.mark.parametrize("name", ["dlc", "coco_format"])
def test_min_epoch_samples_is_a_dataset_key(name: str) -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(CONF / f"{name}.yaml"), resolve=False)
    assert cfg["min_epoch_samples"] is None and cfg["datamodule"]["min_epoch_samples"] == "${dataset.min_epoch_samples}"
