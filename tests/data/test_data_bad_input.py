"""Every bad-input case of the issue: clear errors naming file and line/annotation, or skip + count."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from lit_heatmap.data import (
    WFLW,
    BadSampleError,
    CocoFormat,
    CocoKeypoints,
    ImageReadError,
)
from tests.data.data_fixtures import person, wflw_line


def _ds(ann: Path, tmp_path: Path, **kw) -> CocoFormat:
    return CocoFormat(ann, img_dir=tmp_path / "images", **kw)


def test_missing_image_file(make_coco, tmp_path: Path, caplog) -> None:
    ann = make_coco()
    (tmp_path / "images" / "2.jpg").unlink()
    with pytest.raises(BadSampleError, match=r"ann.json, annotation id 20: image file .*2.jpg not found"):
        _ds(ann, tmp_path)
    with caplog.at_level(logging.WARNING, logger="lit_heatmap.data"):
        ds = _ds(ann, tmp_path, on_bad_sample="skip")
    assert len(ds) == 1 and ds.num_skipped == 1
    assert "2.jpg not found" in caplog.text and "skipped 1 bad sample" in caplog.text


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_corrupt_or_truncated_image(make_coco, tmp_path: Path, caplog, damage: str) -> None:
    ann = make_coco()
    p = tmp_path / "images" / "2.jpg"
    p.write_bytes(b"garbage" * 50 if damage == "corrupt" else p.read_bytes()[:300])
    ds = _ds(ann, tmp_path)  # the setup pass does not decode: found while loading
    assert len(ds) == 2
    ds[0]
    with pytest.raises(ImageReadError, match=r"2.jpg.*annotation id 20"):
        ds[1]
    skip = _ds(ann, tmp_path, on_bad_sample="skip")
    with caplog.at_level(logging.WARNING, logger="lit_heatmap.data"):
        s = skip[1]
    assert s["image_id"].item() == 1  # replaced by the next good sample
    assert skip.num_skipped == 1 and "2.jpg" in caplog.text
    skip[1]
    assert skip.num_skipped == 1  # a known-bad index is not re-read nor re-counted


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("keypoints", [float("nan")] + person(0, 1)["keypoints"][1:], "keypoint 0 has a NaN"),
        (
            "keypoints",
            person(0, 1)["keypoints"][:6] + [-4.0, 30.0, 2] + person(0, 1)["keypoints"][9:],
            r"keypoint 2 has negative coordinates \[-4.0, 30.0\]",
        ),
        ("bbox", [10, 10, 0, 40], r"bbox \[10.0, 10.0, 0.0, 40.0\] is empty or has a negative size"),
        ("bbox", [10, 10, 30, -5], r"bbox \[10.0, 10.0, 30.0, -5.0\] is empty or has a negative size"),
        ("bbox", [10, 10, 30], r"bbox must be \[x, y, w, h\]"),
        ("num_keypoints", 5, "num_keypoints=5 but 17 keypoints are labelled"),
        ("image_id", 99, "unknown image_id 99"),
        ("keypoints", [1, 2, 2], "3 keypoint values, expected 3 x 17"),
    ],
)
def test_bad_annotation(make_coco, tmp_path: Path, field: str, value, message: str) -> None:
    bad = person(20, 2)
    bad[field] = value
    ann = make_coco([person(10, 1), bad])
    with pytest.raises(BadSampleError, match=r"ann.json, annotation id 20: " + message):
        _ds(ann, tmp_path)
    ds = _ds(ann, tmp_path, on_bad_sample="skip")
    assert len(ds) == 1 and ds.num_skipped == 1 and ds.records[0].image_id == 1


def test_zero_labelled_keypoints_left_out(make_coco, tmp_path: Path) -> None:
    empty = person(20, 2, num_keypoints=0, keypoints=[0, 0, 0] * 17)
    ds = _ds(make_coco([person(10, 1), empty]), tmp_path)
    assert len(ds) == 1 and ds.num_skipped == 0
    with pytest.raises(ValueError, match=r"ann.json: no usable instances .*2 with zero labelled keypoints"):
        _ds(make_coco([empty, person(30, 1, num_keypoints=0, keypoints=[0, 0, 0] * 17)]), tmp_path)


def test_crowd_left_out(make_coco, tmp_path: Path) -> None:
    ds = _ds(make_coco([person(10, 1), person(20, 2, iscrowd=1)]), tmp_path)
    assert [r.image_id for r in ds.records] == [1]


def test_empty_dataset(make_coco, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"ann.json: no usable instances \(0 annotations"):
        _ds(make_coco([]), tmp_path)


def test_invalid_json_names_line(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(BadSampleError, match=r"broken.json:2:\d+: invalid JSON"):
        _ds(bad, tmp_path)


def test_missing_roots_say_how_to_set_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"does not exist; point `dataset.root=`"):
        CocoKeypoints(tmp_path / "no_coco")
    with pytest.raises(FileNotFoundError, match=r"set it with `dataset.root=/path/to/coco"):
        CocoKeypoints(None)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"dataset.root="):
        WFLW(tmp_path / "no_wflw")
    with pytest.raises(FileNotFoundError, match=r"person_keypoints_train2017.json not found"):
        CocoKeypoints(tmp_path, split="train2017")
    with pytest.raises(FileNotFoundError, match=r"dataset.train_ann="):
        CocoFormat(tmp_path / "missing.json")
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"dataset.img_dir="):
        CocoFormat(tmp_path / "a.json", img_dir=tmp_path / "nowhere")


def test_wflw_wrong_field_count(make_wflw) -> None:
    good = wflw_line("1--Group/a.jpg")
    root = make_wflw([good, good.rsplit(" ", 2)[0] + " 1--Group/a.jpg"])
    ann = "list_98pt_rect_attr_train.txt"
    with pytest.raises(BadSampleError, match=ann + r":2: 206 fields, expected 207"):
        WFLW(root)
    ds = WFLW(root, on_bad_sample="skip")
    assert len(ds) == 1 and ds.num_skipped == 1


@pytest.mark.parametrize(
    "line, message",
    [
        (wflw_line("1--Group/missing.jpg"), r"image file .*missing.jpg not found"),
        (wflw_line("../outside.jpg"), r"unknown image path '../outside.jpg'"),
        (wflw_line("1--Group/a.jpg").replace("30.000", "nan", 1), "keypoint 0 has a NaN"),
        (wflw_line("1--Group/a.jpg").replace("30.000", "-30.000", 1), "keypoint 0 has negative"),
        (wflw_line("1--Group/a.jpg").replace("25 20 110 100", "25 20 20 100"), "face rectangle.*empty"),
        (wflw_line("1--Group/a.jpg").replace(" 1 0 0 1 0 1 ", " 1 0 0 7 0 1 "), "attribute flags must be 0 or 1"),
        (wflw_line("1--Group/a.jpg").replace("30.000", "x", 1), "non-numeric field"),
    ],
)
def test_wflw_bad_lines(make_wflw, line: str, message: str) -> None:
    root = make_wflw([wflw_line("1--Group/a.jpg"), line])
    with pytest.raises(BadSampleError, match=r"list_98pt_rect_attr_train.txt:2: .*" + message):
        WFLW(root)
    assert len(WFLW(root, on_bad_sample="skip")) == 1


def test_wflw_empty_file(make_wflw) -> None:
    root = make_wflw([""])
    with pytest.raises(ValueError, match=r"list_98pt_rect_attr_train.txt: no usable faces"):
        WFLW(root)


def test_wflw_corrupt_image_while_loading(make_wflw) -> None:
    root = make_wflw()
    img = root / "WFLW_images" / "1--Group" / "a.jpg"
    cv2.imwrite(str(img.with_suffix(".png")), np.zeros((4, 4, 3), np.uint8))
    img.write_bytes(b"\x89PNG broken")
    ds = WFLW(root)
    with pytest.raises(ImageReadError, match=r"a.jpg.*list_98pt_rect_attr_train.txt:1"):
        ds[0]
    skip = WFLW(root, on_bad_sample="skip")
    with pytest.raises(ImageReadError, match="every image failed to load"):
        skip[0]
    assert skip.num_skipped == 2


def test_bad_policy_value(make_coco, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_bad_sample must be 'raise' or 'skip'"):
        _ds(make_coco(), tmp_path, on_bad_sample="ignore")
