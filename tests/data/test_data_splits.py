"""Train/val splits that stay put when frames are added, val_csv left out of training, split.json.

The oracle of the split rule is an independent sha1 computation in this file (``_val_by_hash``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lit_heatmap.data import CocoFormat, DLCProject, KeypointDataModule
from lit_heatmap.data.splits import read_split_file, write_split
from tests.data.test_data_dlc_project import NAMES, coco_json, frame, label_csv, single_project, single_rows


def _val_by_hash(paths: list[str], fraction: float, seed: int = 0) -> set[str]:
    """The documented rule: val when the first 8 bytes of sha1(f"{seed}:{path}") / 2**64 < fraction."""
    return {
        p for p in paths if int.from_bytes(hashlib.sha1(f"{seed}:{p}".encode()).digest()[:8], "big") < fraction * 2**64
    }


def _rel(ds: DLCProject) -> set[str]:
    return {r.image_path.relative_to(ds.root).as_posix() for r in ds.records}


def add_video(root: Path, video: str, n: int) -> list[str]:
    """A new labeled-data/<video> folder of n frames with its CollectedData CSV; their relative paths."""
    rows = single_rows(n, video)
    for rel, _ in rows:
        frame(root / rel, 64, 48)
    label_csv(root / "labeled-data" / video / "CollectedData_Alice.csv", NAMES, rows)
    return [rel for rel, _ in rows]


# ------------------------------------------------------------------------------------------ item 3
def test_dlc_split_does_not_move_when_frames_are_added(tmp_path: Path) -> None:
    """The audit's case: 3 frames added in a new folder moved every old val frame into train."""
    root = single_project(tmp_path / "p", n=20, h=64)
    before_val = _rel(DLCProject(root, split="val", val_fraction=0.2))
    before_train = _rel(DLCProject(root, split="train", val_fraction=0.2))
    old = [f"labeled-data/vid1/img{i:03d}.png" for i in range(20)]
    assert before_val == _val_by_hash(old, 0.2) and before_train == set(old) - before_val
    new = add_video(root, "vid0", 3)  # sorts before vid1: row numbers of every old frame shift
    after_val = _rel(DLCProject(root, split="val", val_fraction=0.2))
    after_train = _rel(DLCProject(root, split="train", val_fraction=0.2))
    assert after_val - set(new) == before_val and after_train - set(new) == before_train
    assert after_val == _val_by_hash(old + new, 0.2)


def test_coco_format_split_by_file_name_does_not_move(tmp_path: Path) -> None:
    ann = coco_json(tmp_path / "c", [[0, 0, 640, 480]] * 12)
    names = [f"f{i}.png" for i in range(1, 13)]
    val = CocoFormat(ann, split="val", val_fraction=0.25)
    files = {Path(r.image_path).name for r in val.records}
    assert files == _val_by_hash(names, 0.25)
    # the same images under other ids, in another order, plus 4 more: the old ones keep their side
    data = json.loads(ann.read_text())
    for img, ann_ in zip(data["images"], data["annotations"]):
        img["id"] += 100
        ann_["image_id"] += 100
    more = coco_json(tmp_path / "more", [[0, 0, 640, 480]] * 4)  # images f1..f4 of another folder: renamed g*
    extra = json.loads(more.read_text())
    for img in extra["images"]:
        (tmp_path / "more" / img["file_name"]).rename(tmp_path / "c" / f"g{img['id']}.png")
        img["file_name"] = f"g{img['id']}.png"
    data["images"] = extra["images"][::-1] + data["images"][::-1]
    data["annotations"] += extra["annotations"]
    ann.write_text(json.dumps(data))
    after = CocoFormat(ann, split="val", val_fraction=0.25)
    after_files = {Path(r.image_path).name for r in after.records}
    assert after_files & set(names) == files
    assert after_files == _val_by_hash(names + [f"g{i}.png" for i in range(1, 5)], 0.25)


def test_split_json_round_trip(tmp_path: Path) -> None:
    """A run's split.json lists train/val relative to the project; split_file selects those frames even
    after frames were added (the DeepLabCut refinement loop)."""
    root = single_project(tmp_path / "p", n=10)
    train = DLCProject(root, split="train", val_fraction=0.3)
    val = DLCProject(root, split="val", val_fraction=0.3)
    out = write_split(KeypointDataModule(train=train, val=val, batch_size=2, num_workers=0), tmp_path / "run")
    assert out == tmp_path / "run" / "split.json"
    split = json.loads(out.read_text())
    assert split == {"train": sorted(_rel(train)), "val": sorted(_rel(val))}
    assert read_split_file(out) == split
    new = add_video(root, "vid2", 6)
    again = DLCProject(root, split="val", split_file=out)
    assert _rel(again) == set(split["val"])
    assert _rel(DLCProject(root, split="train", split_file=out)) == set(split["train"])
    assert not set(new) & _rel(again)
    bad = tmp_path / "bad.json"
    bad.write_text('{"train": []}')
    with pytest.raises(ValueError, match=r"bad.json: expected \{\"train\""):
        DLCProject(root, split="val", split_file=bad)


# ------------------------------------------------------------------------------------------ item 2
def test_val_csv_inside_labeled_data_is_left_out_of_train(tmp_path: Path) -> None:
    """The audit's case: holding out one video folder's CollectedData CSV, its frames were also trained on."""
    root = single_project(tmp_path / "p", n=6)
    held = add_video(root, "vid2", 4)
    val_csv = "labeled-data/vid2/CollectedData_Alice.csv"
    train = DLCProject(root, split="train", val_csv=val_csv)
    val = DLCProject(root, split="val", val_csv=val_csv)
    assert _rel(val) == set(held) and len(val) == 4
    assert not _rel(train) & set(held) and len(train) == 6


def test_val_csv_equal_to_csv_is_refused(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", n=6)
    csv = "labeled-data/vid1/CollectedData_Alice.csv"
    with pytest.raises(ValueError, match="val_csv=.* is the only label file .*no frame is left to train on"):
        DLCProject(root, split="train", csv=csv, val_csv=csv)


def test_val_frames_labelled_in_a_train_file_are_named(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", n=6)
    rows = single_rows(6)[4:]  # img004, img005 of vid1, also in vid1's CollectedData CSV
    label_csv(root / "val.csv", NAMES, rows)
    with pytest.raises(ValueError) as err:
        DLCProject(root, split="train", val_csv="val.csv")
    msg = str(err.value)
    assert "2 frame(s) are also in the training label files" in msg
    assert "labeled-data/vid1/img004.png, labeled-data/vid1/img005.png" in msg
