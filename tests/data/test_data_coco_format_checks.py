"""coco_format checks the JSON against the images (issue 19, item 5): the header size against the JSON's
width/height, labelled keypoints and boxes outside the image as bad samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_heatmap.data import CocoFormat
from lit_heatmap.data.validation import BadSampleError
from tests.data.test_data_dlc_project import coco_json


def test_json_size_differs_from_the_image(tmp_path: Path) -> None:
    ann = coco_json(tmp_path / "c", [[0, 0, 64, 48]] * 2, w=64, h=48)
    data = json.loads(ann.read_text())
    for img in data["images"]:
        img["width"], img["height"] = 640, 480
    ann.write_text(json.dumps(data))
    with pytest.raises(
        BadSampleError, match=r"annotation id 1: the JSON says image id 1 is 640x480 but .*f1.png is 64x48"
    ):
        CocoFormat(ann)


def test_keypoint_far_outside_is_a_bad_sample(tmp_path: Path) -> None:
    """The audit's case: x = 1e6 was dropped from the target but kept in evaluation (EPE 333330 px)."""
    ann = coco_json(tmp_path / "c", [[100, 50, 120, 300], [300, 100, 150, 200]])
    data = json.loads(ann.read_text())
    data["annotations"][1]["keypoints"][0] = 1e6
    ann.write_text(json.dumps(data))
    with pytest.raises(
        BadSampleError, match=r"annotation id 2: keypoint 0 at \[1000000.0, 110.0\] lies outside the 640x480"
    ):
        CocoFormat(ann)
    ds = CocoFormat(ann, on_bad_sample="skip")
    assert len(ds) == 1 and ds.num_skipped == 1
    assert [a["id"] for a in ds.ground_truth()["annotations"]] == [1]


def test_box_outside_and_edge_points(tmp_path: Path) -> None:
    ann = coco_json(tmp_path / "c", [[100, 50, 120, 300], [300, 100, 150, 200]])
    data = json.loads(ann.read_text())
    data["annotations"][1]["bbox"] = [700, 100, 50, 50]
    kps = data["annotations"][0]["keypoints"]
    kps[0:2] = [639.5, -0.5]  # on the image's edge by the pixel-centre convention
    ann.write_text(json.dumps(data))
    with pytest.raises(BadSampleError, match=r"annotation id 2: bbox \[700.0, 100.0, 50.0, 50.0\] lies outside"):
        CocoFormat(ann)
    data["annotations"][1]["bbox"] = [300, 100, 150, 200]
    ann.write_text(json.dumps(data))
    assert len(CocoFormat(ann)) == 2
