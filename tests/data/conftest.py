"""Fixtures for the data tests: small COCO-format and WFLW-format datasets generated under tmp_path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest

from lit_heatmap.data.meta import COCO_KEYPOINT_NAMES, COCO_SKELETON


def write_jpeg(path: Path, w: int = 160, h: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def person(ann_id: int, image_id: int, x0: float = 40.0, y0: float = 20.0, **over: Any) -> dict[str, Any]:
    """A person annotation with all 17 keypoints labelled, front-facing (left limbs at larger x)."""
    kps = []
    for k, name in enumerate(COCO_KEYPOINT_NAMES):
        side = 1 if name.startswith("left") else (-1 if name.startswith("right") else 0)
        kps += [x0 + 30 + side * 12 + (k % 3), y0 + 5 * k, 2]
    ann = {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "num_keypoints": 17,
           "keypoints": kps, "bbox": [x0, y0, 60.0, 90.0], "area": 5400.0}  # fmt: skip
    ann.update(over)
    return ann


@pytest.fixture
def make_coco(tmp_path: Path) -> Callable[..., Path]:
    """make_coco(annotations=None, n_images=2, images=None) -> path of a COCO json in tmp_path/ann.json,
    images in tmp_path/images/{id}.jpg."""

    def make(annotations: list[dict] | None = None, n_images: int = 2, images: list[dict] | None = None,
             categories: list[dict] | None = None) -> Path:  # fmt: skip
        img_dir = tmp_path / "images"
        if images is None:
            images = []
            for i in range(1, n_images + 1):
                write_jpeg(img_dir / f"{i}.jpg", seed=i)
                images.append({"id": i, "file_name": f"{i}.jpg", "width": 160, "height": 120})
        if annotations is None:
            annotations = [person(10 * i, i) for i in range(1, n_images + 1)]
        if categories is None:
            categories = [{"id": 1, "name": "person", "keypoints": COCO_KEYPOINT_NAMES,
                           "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]  # fmt: skip
        path = tmp_path / "ann.json"
        path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
        return path

    return make


def wflw_line(rel: str, offset: float = 0.0) -> str:
    """A WFLW line: 98 landmarks on a 10x10 grid-ish face, rect, 6 attribute flags, path."""
    k = np.arange(98)
    xs = 30 + (k % 10) * 8.0 + offset
    ys = 25 + (k // 10) * 7.0
    pts = " ".join(f"{x:.3f} {y:.3f}" for x, y in zip(xs, ys))
    return f"{pts} 25 20 110 100 1 0 0 1 0 1 {rel}"


@pytest.fixture
def make_wflw(tmp_path: Path) -> Callable[..., Path]:
    """make_wflw(lines=None, split="train") -> WFLW root under tmp_path with one image."""

    def make(lines: list[str] | None = None, split: str = "train") -> Path:
        root = tmp_path / "wflw"
        write_jpeg(root / "WFLW_images" / "1--Group" / "a.jpg", 140, 130)
        ann = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt"
        ann.parent.mkdir(parents=True, exist_ok=True)
        if lines is None:
            lines = [wflw_line("1--Group/a.jpg"), wflw_line("1--Group/a.jpg", 3.0)]
        ann.write_text("\n".join(lines) + "\n")
        return root

    return make
