"""conf/dataset/*.yaml: each instantiates a working KeypointDataModule, its metrics and monitor."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def _load(name: str, **overrides) -> OmegaConf:
    cfg = OmegaConf.create({"dataset": OmegaConf.load(CONF / f"{name}.yaml")})
    for key, value in overrides.items():
        OmegaConf.update(cfg, f"dataset.{key}", value)
    return cfg


def _check(cfg, num_keypoints: int, input_size: tuple[int, int]) -> None:
    OmegaConf.update(cfg, "dataset.num_workers", 0)
    dm = instantiate(cfg.dataset.datamodule)
    assert dm.meta.num_keypoints == num_keypoints and dm.meta.input_size == input_size
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape[1:] == (3, input_size[1], input_size[0])
    metrics = instantiate(cfg.dataset.metrics)
    assert all(isinstance(m, torch.nn.Module) for m in metrics.values())
    assert cfg.dataset.monitor.split("/")[1] in metrics
    assert cfg.dataset.monitor_mode in ("min", "max")


def test_synthetic_yaml() -> None:
    cfg = _load("synthetic", train_size=8, val_size=4)
    _check(cfg, 14, (128, 128))
    assert "PCK@0.05" in cfg.dataset.metrics and cfg.dataset.monitor == "val/PCK@0.05"


def test_coco_yaml(coco_root: Path) -> None:
    cfg = _load("coco", root=str(coco_root), train_split="val2017")
    _check(cfg, 17, (192, 256))
    det = coco_root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json"
    OmegaConf.update(cfg, "dataset.det_file", str(det))
    OmegaConf.update(cfg, "dataset.det_score_threshold", 0.9)
    dm = instantiate(cfg.dataset.datamodule)
    assert all(float(s["score"]) >= 0.9 for s in dm.val_dataset)


def test_coco_yaml_without_root_says_how() -> None:
    cfg = _load("coco")
    OmegaConf.update(cfg, "dataset.root", None)
    with pytest.raises(Exception, match=r"dataset.root="):
        instantiate(cfg.dataset.datamodule)


def test_wflw_yaml(wflw_root: Path) -> None:
    cfg = _load("wflw", root=str(wflw_root))
    OmegaConf.update(cfg, "dataset.datamodule.train.split", "test")  # the sample has only the test list
    _check(cfg, 98, (256, 256))


def test_coco_format_yaml(coco_root: Path) -> None:
    ann = str(coco_root / "annotations" / "person_keypoints_val2017.json")
    cfg = _load("coco_format", train_ann=ann, img_dir=str(coco_root / "val2017"), val_fraction=0.25)
    _check(cfg, 17, (192, 256))
    dm = instantiate(cfg.dataset.datamodule)
    train_ids = {r.image_id for r in dm.train_dataset.records}
    val_ids = {r.image_id for r in dm.val_dataset.records}
    assert len(val_ids) == 1 and not train_ids & val_ids
    assert {r.image_id for r in dm.test_dataset.records} == val_ids  # no test_ann: the held-out part
    cfg2 = _load("coco_format", train_ann=ann, val_ann=ann, img_dir=str(coco_root / "val2017"))
    dm2 = instantiate(cfg2.dataset.datamodule)
    assert len(dm2.val_dataset) == len(dm2.test_dataset) == 12  # test falls back to val_ann
