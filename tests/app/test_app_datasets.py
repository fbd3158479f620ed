"""lit-heatmap-train on the real-format samples (COCO, WFLW) and on a generated COCO-format file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from lit_heatmap.train import train

FAST = ["++trainer.fast_dev_run=true", "dataset.num_workers=0", "dataset.batch_size=4"]


def test_coco_fast_dev_run(make_cfg, coco_root: Path) -> None:
    # the sample only has val2017: train on it too
    cfg = make_cfg(
        [
            "dataset=coco",
            f"dataset.root={coco_root}",
            "dataset.train_split=val2017",
            "dataset.input_size=[96,128]",
            *FAST,
        ],
        tiny=False,
    )
    with _tiny_model(cfg):
        metrics, objects = train(cfg)
    assert objects["meta"].num_keypoints == 17
    assert 0.0 <= metrics["val/AP"] <= 1.0 and np.isfinite(metrics["val/loss"])


def test_coco_fast_dev_run_detected_boxes(make_cfg, coco_root: Path) -> None:
    det = coco_root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json"
    cfg = make_cfg(
        [
            "dataset=coco",
            f"dataset.root={coco_root}",
            "dataset.train_split=val2017",
            f"dataset.det_file={det}",
            "dataset.input_size=[96,128]",
            *FAST,
        ],
        tiny=False,
    )
    with _tiny_model(cfg):
        metrics, _ = train(cfg)
    # AP is scored against the annotation file's GT (datamodule.targets); MeanOKS needs a GT per
    # instance, which detections lack, so it is not logged
    assert 0.0 <= metrics["val/AP"] <= 1.0
    assert "val/MeanOKS" not in metrics


def test_wflw_fast_dev_run(make_cfg, wflw_root: Path) -> None:
    cfg = make_cfg(
        [
            "dataset=wflw",
            f"dataset.root={wflw_root}",
            "dataset.datamodule.train.split=test",
            "dataset.input_size=[64,64]",
            *FAST,
        ],
        tiny=False,
    )
    with _tiny_model(cfg):
        metrics, objects = train(cfg)
    assert objects["meta"].num_keypoints == 98
    assert metrics["val/NME"] > 0 and "val/FR@0.1" in metrics and "val/AUC@0.1" in metrics


def write_coco_format(root: Path, n_images: int = 6) -> Path:
    """A 3-keypoint 'tool' category (tip, left_handle, right_handle) on generated images."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    (root / "imgs").mkdir(parents=True)
    for i in range(n_images):
        img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "imgs" / f"im{i}.png"), img)
        images.append({"id": i + 1, "file_name": f"im{i}.png", "width": 160, "height": 120})
        x0, y0 = 30 + 5 * i, 20
        kps = [x0 + 30, y0 + 10, 2, x0 + 10, y0 + 60, 2, x0 + 50, y0 + 60, 1]
        anns.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 7,
                "bbox": [x0, y0, 60, 70],
                "area": 4200,
                "iscrowd": 0,
                "num_keypoints": 3,
                "keypoints": kps,
            }
        )
    cats = [
        {"id": 7, "name": "tool", "keypoints": ["tip", "left_handle", "right_handle"], "skeleton": [[1, 2], [1, 3]]}
    ]
    path = root / "tools.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def test_coco_format_fast_dev_run(make_cfg, tmp_path: Path) -> None:
    ann = write_coco_format(tmp_path / "data")
    cfg = make_cfg(
        [
            "dataset=coco_format",
            f"dataset.train_ann={ann}",
            "dataset.val_fraction=0.34",
            f"dataset.img_dir={tmp_path / 'data' / 'imgs'}",
            "dataset.input_size=[64,64]",
            *FAST,
        ],
        tiny=False,
    )
    with _tiny_model(cfg):
        metrics, objects = train(cfg)
    meta = objects["meta"]
    assert meta.num_keypoints == 3 and meta.flip_index == [0, 2, 1]
    assert "val/loss" in metrics and any(k.startswith("val/") and k != "val/loss" for k in metrics)


class _tiny_model:
    """Context manager: swap in the tiny backbone/head (the dataset tests keep their dataset config)."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    def __enter__(self) -> None:
        from omegaconf import open_dict

        with open_dict(self.cfg):
            self.cfg.backbone.name = "regnetx_002"
            self.cfg.head = {
                "_target_": "lit_heatmap.models.MultiScaleHeatmapHead",
                "_partial_": True,
                "fuse": "sum",
                "channels": 32,
            }
            self.cfg.extras.print_config = False
            self.cfg.logger = None

    def __exit__(self, *exc) -> None:
        return None
