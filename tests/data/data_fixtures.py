"""Helpers for the data tests: generated JPEGs, COCO person annotations and WFLW lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lit_heatmap.facts import COCO_KEYPOINT_NAMES


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
    ann = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "num_keypoints": 17,
        "keypoints": kps,
        "bbox": [x0, y0, 60.0, 90.0],
        "area": 5400.0,
    }
    ann.update(over)
    return ann


def wflw_line(rel: str, offset: float = 0.0) -> str:
    """A WFLW line: 98 landmarks on a 10x10 grid-ish face, rect, 6 attribute flags, path."""
    k = np.arange(98)
    xs = 30 + (k % 10) * 8.0 + offset
    ys = 25 + (k // 10) * 7.0
    pts = " ".join(f"{x:.3f} {y:.3f}" for x, y in zip(xs, ys))
    return f"{pts} 25 20 110 100 1 0 0 1 0 1 {rel}"
