"""Fixtures for the data tests: small COCO-format and WFLW-format datasets generated under tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lit_heatmap.facts import COCO_KEYPOINT_NAMES, COCO_SKELETON
from tests.data.data_fixtures import person, wflw_line, write_jpeg  # noqa: F401


@pytest.fixture
def make_coco(tmp_path: Path) -> Callable[..., Path]:
    """make_coco(annotations=None, n_images=2, images=None) -> path of a COCO json in tmp_path/ann.json,
    images in tmp_path/images/{id}.jpg."""

    def make(
        annotations: list[dict] | None = None,
        n_images: int = 2,
        images: list[dict] | None = None,
        categories: list[dict] | None = None,
    ) -> Path:
        img_dir = tmp_path / "images"
        if images is None:
            images = []
            for i in range(1, n_images + 1):
                write_jpeg(img_dir / f"{i}.jpg", seed=i)
                images.append({"id": i, "file_name": f"{i}.jpg", "width": 160, "height": 120})
        if annotations is None:
            annotations = [person(10 * i, i) for i in range(1, n_images + 1)]
        if categories is None:
            categories = [
                {
                    "id": 1,
                    "name": "person",
                    "keypoints": COCO_KEYPOINT_NAMES,
                    "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
                }
            ]
        path = tmp_path / "ann.json"
        path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
        return path

    return make


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
