"""`DLCProject` (``dataset=dlc``) on tiny DeepLabCut / lightning-pose projects written into tmp_path,
whole-frame input sizes, flip pairs from bodypart names, and CocoFormat's whole-frame choice.

Every expected number is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lit_heatmap.data import (
    CocoFormat,
    DLCProject,
    KeypointDataModule,
    KeypointTransform,
    collate,
    is_whole_frame,
    resolve_flip_index,
    whole_frame_input_size,
    with_default_sizes,
)

NAMES = ["snout", "leftear", "rightear", "tailbase"]
PAWS = ["snout", "paw1LH_top", "paw2LF_top", "paw3RF_top", "paw4RH_top"]
PAW_PAIRS = [["paw1LH_top", "paw4RH_top"], ["paw2LF_top", "paw3RF_top"]]

Cell = float | str | None  # a coordinate: a number, "NaN", or None (empty cell)


# ------------------------------------------------------------------------------------ project writer
def frame(path: Path, w: int, h: int) -> Path:
    """A blank PNG frame of w x h."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((h, w, 3), 40, np.uint8))
    return path


def _cell(v: Cell) -> str:
    return "" if v is None else str(v)


def label_csv(
    path: Path,
    names: Sequence[str],
    rows: Sequence[tuple[str, Sequence[Cell]]],
    index: int = 1,
    individuals: Sequence[str] | None = None,
    scorer: str = "Alice",
) -> Path:
    """A DeepLabCut label CSV: 3 header rows (4 with ``individuals``), ``index`` = 1 or 3 index columns.

    ``rows``: ``(image path relative to the root, the 2*K (*I) coordinate cells)``."""
    inds = list(individuals) if individuals else [None]
    cols = [(ind, bp, c) for ind in inds for bp in names for c in "xy"]
    pad = "," * (index - 1)
    lines = [f"scorer{pad}," + ",".join(scorer for _ in cols)]
    if individuals:
        lines.append(f"individuals{pad}," + ",".join(str(ind) for ind, _, _ in cols))
    lines.append(f"bodyparts{pad}," + ",".join(bp for _, bp, _ in cols))
    lines.append(f"coords{pad}," + ",".join(c for _, _, c in cols))
    for rel, cells in rows:
        assert len(cells) == len(cols), (rel, len(cells), len(cols))
        key = ",".join(rel.split("/")) if index == 3 else rel
        lines.append(key + "," + ",".join(_cell(v) for v in cells))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def config_yaml(root: Path, names: Sequence[str], skeleton: Sequence[Sequence[str]]) -> None:
    lines = [
        "Task: openfield",
        "scorer: Alice",
        "multianimalproject: false",
        "bodyparts:",
        *[f"- {n}" for n in names],
        "skeleton:",
        *[f"- - {a}\n  - {b}" for a, b in skeleton],
        "skeleton_color: black",
    ]
    (root / "config.yaml").write_text("\n".join(lines) + "\n")


def single_rows(n: int, video: str = "vid1") -> list[tuple[str, list[Cell]]]:
    """Frame i: snout (10 + i, 20), leftear (5, 6), rightear (7.25, 8), tailbase (40, 30 + i);
    frame 3 has an empty leftear and a NaN tailbase (both unlabelled)."""
    rows = []
    for i in range(n):
        cells: list[Cell] = [10 + i, 20, 5, 6, 7.25, 8, 40, 30 + i]
        if i == 3:
            cells[2:4], cells[6:8] = [None, None], ["NaN", "NaN"]
        rows.append((f"labeled-data/{video}/img{i:03d}.png", cells))
    return rows


def single_project(
    root: Path, n: int = 8, w: int = 64, h: int = 48, index: int = 1, names: Sequence[str] = NAMES
) -> Path:
    """A single-animal DeepLabCut project: ``n`` frames of w x h in labeled-data/vid1, a config.yaml."""
    rows = single_rows(n)
    for rel, _ in rows:
        frame(root / rel, w, h)
    if list(names) != NAMES:  # same coordinates, other names (K = 4 or 5)
        k = len(names)
        rows = [(rel, (cells * 2)[: 2 * k]) for rel, cells in rows]
    label_csv(root / "labeled-data" / "vid1" / "CollectedData_Alice.csv", names, rows, index=index)
    if list(names) == NAMES:
        config_yaml(root, names, [["snout", "leftear"], ["snout", "rightear"], ["tailbase", "snout"]])
    return root


# ---------------------------------------------------------------------------------- single animal
@pytest.mark.parametrize("index", [1, 3], ids=["dlc-1-index-column", "dlc22-3-index-columns"])
def test_single_animal_records_and_meta(tmp_path: Path, index: int) -> None:
    root = single_project(tmp_path / "openfield", index=index)
    ds = DLCProject(root, split="all")
    assert len(ds) == 8 and ds.num_skipped == 0
    assert [r.image_id for r in ds.records] == list(range(8))
    rec = ds.records[3]
    assert rec.image_path == root / "labeled-data" / "vid1" / "img003.png"
    # empty cells (leftear) and NaN cells (tailbase) are unlabelled: visibility 0, coordinates 0
    assert rec.keypoints.tolist() == [[13, 20], [0, 0], [7.25, 8], [0, 0]]
    assert rec.visibility.tolist() == [1, 0, 1, 0]
    assert ds.records[5].keypoints.tolist() == [[15, 20], [5, 6], [7.25, 8], [40, 35]]
    assert ds.records[5].visibility.tolist() == [1, 1, 1, 1]
    for r in ds.records:  # single animal: the whole 64 x 48 frame is the box
        assert r.bbox.tolist() == [0, 0, 64, 48]
    # metric scale: the labelled extent (floor 3.2 px); frame i: x 5 .. 40, y 6 .. 30 + i; frame 3: 5.75 x 12
    for i, r in enumerate(ds.records):
        assert (r.norm, r.area) == ((12, 5.75 * 12) if i == 3 else (35, 35 * (24 + i)))
    meta = ds.meta
    assert meta.name == "openfield" and meta.num_keypoints == 4 and meta.keypoint_names == NAMES
    assert meta.skeleton == [(0, 1), (0, 2), (3, 0)]  # config.yaml: snout-leftear, snout-rightear, tailbase-snout
    assert meta.sigmas == [0.05] * 4 and meta.flip_index == [0, 2, 1, 3]
    # 64x48 has the aspect of 640x480: 256 px short side, 256 * 4/3 = 341.3 -> 320 (multiple of 32)
    assert meta.input_size == (320, 256) and meta.padding == 1.0
    assert ds.transform.input_size == (320, 256) and ds.transform.padding == 1.0 and not ds.transform.train


def test_whole_640x480_frames_sample(tmp_path: Path) -> None:
    """640x480 frames (DLC >= 2.2 layout): input (320, 256), padding 1.0, and the crop maps a keypoint by hand."""
    root = single_project(tmp_path / "reach", w=640, h=480, index=3)
    ds = DLCProject(root, split="all")
    assert ds.meta.input_size == (320, 256) and ds.meta.padding == 1.0
    # the box is the frame; the metric scale is the mouse: extent 35 x 24, floor 0.05 * 640 = 32 px
    assert ds.records[0].bbox.tolist() == [0, 0, 640, 480] and ds.records[0].area == 32 * 32
    assert ds.records[0].norm == 35
    s = ds[5]
    assert s["image"].shape == (3, 256, 320) and s["image"].dtype == torch.uint8
    # box 640x480 -> aspect-fixed to 640x512 around (320, 240); scale 0.5; x_in = 0.5 x - 0.5, y_in = 0.5 y + 7.5
    # frame 5: snout (15, 20), leftear (5, 6), rightear (7.25, 8), tailbase (40, 35)
    np.testing.assert_allclose(
        s["keypoints"].numpy(), [[7.0, 17.5], [2.0, 10.5], [3.125, 11.5], [19.5, 25.0]], atol=1e-5
    )
    np.testing.assert_allclose(s["orig_keypoints"].numpy(), [[15, 20], [5, 6], [7.25, 8], [40, 35]])
    assert s["visibility"].tolist() == [1, 1, 1, 1] and not bool(s["flipped"])
    assert s["bbox"].tolist() == [0, 0, 640, 480] and int(s["image_id"]) == 5 and s["norm"].item() == 35
    assert ds[3]["visibility"].tolist() == [1, 0, 1, 0]
    # affine maps input px back to original px
    aff, kps = s["affine"].numpy(), s["keypoints"].numpy()
    np.testing.assert_allclose(kps @ aff[:, :2].T + aff[:, 2], s["orig_keypoints"].numpy(), atol=1e-4)


def test_explicit_input_size_and_transform(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", w=640, h=480)
    ds = DLCProject(root, split="all", input_size=(128, 96))
    assert ds.meta.input_size == (128, 96) and ds.meta.padding == 1.0  # padding still chosen: whole frames
    ds = DLCProject(root, split="all", transform=KeypointTransform(input_size=(256, 256), padding=1.1))
    assert ds.meta.input_size == (256, 256) and ds.meta.padding == 1.1
    aug = KeypointTransform(input_size=None, train=True)
    ds = DLCProject(root, split="all", transform=aug)
    assert ds.meta.input_size == (320, 256) and ds.meta.padding == 1.0 and ds.transform.train
    assert aug.input_size is None and aug.padding is None  # the configured object is not modified
    assert ds[0]["image"].shape == (3, 256, 320)


def test_lightning_pose_top_level_csv(tmp_path: Path) -> None:
    """lightning-pose: CollectedData.csv at the project root (csv=), no config.yaml, paw_l/paw_r."""
    root = tmp_path / "ibl-paw"
    for i in range(3):
        frame(root / "labeled-data" / "sess1" / f"img{i:06d}.png", 64, 48)
    label_csv(
        root / "CollectedData.csv",
        ["paw_l", "paw_r"],
        [(f"labeled-data/sess1/img{i:06d}.png", [3 + i, 4, 50, 40 - i]) for i in range(3)],
        scorer="rick",
    )
    with pytest.raises(FileNotFoundError, match="set dataset.csv=CollectedData.csv"):
        DLCProject(root)
    ds = DLCProject(root, csv="CollectedData.csv", split="all")
    assert len(ds) == 3 and [r.image_id for r in ds.records] == [0, 1, 2]
    assert ds.records[2].keypoints.tolist() == [[5, 4], [50, 38]] and ds.records[2].visibility.tolist() == [1, 1]
    assert ds.records[2].bbox.tolist() == [0, 0, 64, 48]
    assert ds.records[2].image_path == root / "labeled-data" / "sess1" / "img000002.png"
    meta = ds.meta
    assert meta.name == "ibl-paw" and meta.keypoint_names == ["paw_l", "paw_r"] and meta.skeleton == []
    assert meta.flip_index == [1, 0] and meta.input_size == (320, 256) and meta.padding == 1.0
    # the absolute path works as well
    assert len(DLCProject(root, csv=root / "CollectedData.csv", split="all")) == 3


# ---------------------------------------------------------------------------------- multi-animal
def multi_project(root: Path) -> Path:
    """Two 640x480 frames, individuals mouse1/mouse2, bodyparts snout/tailbase.

    frame 0: mouse1 snout (100, 100) tailbase (140, 120); mouse2 snout (636, 476), tailbase empty.
    frame 1: mouse1 unlabelled; mouse2 snout (300, 200) tailbase (320, 260)."""
    for i in range(2):
        frame(root / "labeled-data" / "cage" / f"img{i:03d}.png", 640, 480)
    label_csv(
        root / "labeled-data" / "cage" / "CollectedData_Bob.csv",
        ["snout", "tailbase"],
        [
            ("labeled-data/cage/img000.png", [100, 100, 140, 120, 636, 476, None, None]),
            ("labeled-data/cage/img001.png", ["NaN", "NaN", None, None, 300, 200, 320, 260]),
        ],
        index=3,
        individuals=["mouse1", "mouse2"],
        scorer="Bob",
    )
    return root


def test_multi_animal_boxes_and_meta(tmp_path: Path) -> None:
    root = multi_project(tmp_path / "trimice")
    ds = DLCProject(root, split="all")
    csv = root / "labeled-data" / "cage" / "CollectedData_Bob.csv"
    assert len(ds) == 3 and [r.image_id for r in ds.records] == [0, 0, 1]
    assert [r.where for r in ds.records] == [
        f"{csv}:5, individual mouse1",
        f"{csv}:5, individual mouse2",
        f"{csv}:6, individual mouse2",
    ]
    # pad = max(0.1 * longer side of the extent + 4, 1), clipped to [0, 640] x [0, 480]
    # mouse1 frame 0: extent 40 x 20 -> pad 8 -> [92, 92] .. [148, 128]
    assert ds.records[0].bbox.tolist() == [92, 92, 56, 36]
    # metric scale: extent 40 x 20 -> norm 40, area max(800, 32 * 32) (floor 0.05 * 640 = 32 px)
    assert ds.records[0].norm == 40 and ds.records[0].area == 1024
    # mouse2 frame 0: one point -> a 32 px square 620 .. 652, pad 0.1 * 32 + 4 = 7.2 -> [612.8, 452.8] .. clipped
    np.testing.assert_allclose(ds.records[1].bbox, [612.8, 452.8, 27.2, 27.2])
    assert ds.records[1].norm == 32 and ds.records[1].area == 1024
    assert ds.records[1].keypoints.tolist() == [[636, 476], [0, 0]] and ds.records[1].visibility.tolist() == [1, 0]
    # mouse2 frame 1: extent 20 x 60 -> pad 10 -> [290, 190] .. [330, 270]
    assert ds.records[2].bbox.tolist() == [290, 190, 40, 80]
    meta = ds.meta
    assert meta.name == "trimice" and meta.keypoint_names == ["snout", "tailbase"] and meta.skeleton == []
    assert meta.flip_index == [0, 1]  # no name has a side
    assert meta.input_size == (192, 256) and meta.padding == 1.25
    # box_padding = 0.5: mouse1 pad 0.5 * 40 + 4 = 24; mouse2 frame 1 pad 0.5 * 60 + 4 = 34
    wide = DLCProject(root, split="all", box_padding=0.5)
    assert wide.records[0].bbox.tolist() == [76, 76, 88, 68]
    assert wide.records[2].bbox.tolist() == [266, 166, 88, 128]
    # the crop: box [92, 92, 56, 36] at 192x256 -> 56 x 74.67 -> x 1.25 = 70 x 93.33 around (120, 110);
    # scale 192 / 70; snout (100, 100) -> (95.5 - 20 * 192/70, 127.5 - 10 * 192/70)
    s = ds[0]
    assert s["image"].shape == (3, 256, 192)
    np.testing.assert_allclose(s["keypoints"][0].numpy(), [95.5 - 20 * 192 / 70, 127.5 - 10 * 192 / 70], atol=1e-4)


# -------------------------------------------------------------------------------------------- split
def test_split_by_fraction(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p")
    train = DLCProject(root, split="train", val_fraction=0.25)
    val = DLCProject(root, split="val", val_fraction=0.25)
    train_ids, val_ids = [r.image_id for r in train.records], [r.image_id for r in val.records]
    # a frame is val when sha1(f"{seed}:{path}")[:8] / 2**64 < 0.25; seed 0 hashes of img000..img007:
    # 0.604 0.781 0.287 0.570 0.342 0.152 0.188 0.946 -> img005, img006
    assert len(val) == 2 and len(train) == 6 and sorted(val_ids) == [5, 6]
    assert set(train_ids).isdisjoint(val_ids) and sorted(train_ids + val_ids) == list(range(8))
    # deterministic for a seed; seed 1: 0.790 0.454 0.677 0.933 0.744 0.644 0.549 0.135 -> img007
    assert [r.image_id for r in DLCProject(root, split="val", val_fraction=0.25).records] == val_ids
    assert sorted(r.image_id for r in DLCProject(root, split="val", val_fraction=0.25, split_seed=1).records) == [7]
    # both splits share the meta (input size from every frame)
    assert train.meta == val.meta
    assert len(DLCProject(root, split="all", val_fraction=0.25)) == 8
    # the default 0.1: no hash below 0.1, so the smallest (img005) keeps val non-empty
    assert len(DLCProject(root, split="val")) == 1 and len(DLCProject(root, split="train")) == 7
    with pytest.raises(ValueError, match="no validation frames; set dataset.val_fraction=0.1 or dataset.val_csv"):
        DLCProject(root, split="val", val_fraction=0)
    assert len(DLCProject(root, split="train", val_fraction=0)) == 8
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'all'"):
        DLCProject(root, split="test")  # type: ignore[arg-type]


def test_multi_animal_split_keeps_frames_together(tmp_path: Path) -> None:
    root = multi_project(tmp_path / "m")
    train = DLCProject(root, split="train", val_fraction=0.5)
    val = DLCProject(root, split="val", val_fraction=0.5)
    assert {r.image_id for r in train.records}.isdisjoint({r.image_id for r in val.records})
    assert sorted(len(d) for d in (train, val)) == [1, 2]  # frame 0 has two mice, frame 1 one


def test_split_by_val_csv(tmp_path: Path) -> None:
    """val_csv: val is that file's frames; train keeps every frame of the project's CSVs."""
    root = single_project(tmp_path / "p", n=6)
    for i in (6, 7):
        frame(root / "labeled-data" / "vid2" / f"img{i:03d}.png", 64, 48)
    label_csv(
        root / "val_labels.csv",
        NAMES,
        [(f"labeled-data/vid2/img{i:03d}.png", [i, 1, 2, 3, 4, 5, 6, 7]) for i in (6, 7)],
    )
    train = DLCProject(root, split="train", val_csv="val_labels.csv")
    val = DLCProject(root, split="val", val_csv="val_labels.csv")
    assert len(train) == 6 and len(val) == 2
    assert [r.image_path.name for r in val.records] == ["img006.png", "img007.png"]
    assert all(r.image_path.parent.name == "vid1" for r in train.records)
    assert val.records[1].keypoints.tolist() == [[7, 1], [2, 3], [4, 5], [6, 7]]
    # val_fraction is ignored when val_csv is given
    assert len(DLCProject(root, split="train", val_csv="val_labels.csv", val_fraction=0.5)) == 6
    label_csv(root / "other.csv", ["snout", "tail", "a", "b"], [("labeled-data/vid2/img006.png", [1] * 8)])
    with pytest.raises(ValueError, match=r"other.csv: bodyparts \['snout', 'tail', 'a', 'b'\] differ from"):
        DLCProject(root, split="val", val_csv="other.csv")


# ---------------------------------------------------------------------------------------- bad input
def test_non_numeric_cell_names_csv_and_line(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p")
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    lines = csv.read_text().splitlines()
    # 3 header lines, frame i on line 4 + i: frame 2 on line 6
    lines[5] = "labeled-data/vid1/img002.png,12,20,5,oops,7.25,8,40,32"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        DLCProject(root, split="all")
    assert f"{csv}:6:" in str(err.value) and "leftear y = 'oops' is not a number" in str(err.value)
    ds = DLCProject(root, split="all", on_bad_sample="skip")
    assert len(ds) == 7 and ds.num_skipped == 1
    assert [r.image_id for r in ds.records] == [0, 1, 3, 4, 5, 6, 7]  # ids stay the row numbers
    assert "img002.png" not in {r.image_path.name for r in ds.records}
    assert f"{csv}:6" in ds.bad.messages[0]
    # the datamodule summary reports the skipped frame
    dm = KeypointDataModule(train=ds, batch_size=2, num_workers=0)
    assert "train: 7 instances on 7 images, 1 bad samples skipped" in dm.summary()


def test_a_skipped_frame_is_reported_once_for_both_splits(tmp_path: Path, caplog) -> None:
    """The train and val split both read every label file; the bad row is logged once (before: twice)."""
    root = single_project(tmp_path / "p")
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    lines = csv.read_text().splitlines()
    lines[5] = "labeled-data/vid1/img002.png,12,20,5,oops,7.25,8,40,32"
    csv.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="lit_heatmap.data"):
        train = DLCProject(root, split="train", val_fraction=0.25, on_bad_sample="skip")
        val = DLCProject(root, split="val", val_fraction=0.25, on_bad_sample="skip")
    assert train.num_skipped == val.num_skipped == 1  # each split knows (its datamodule summary says so)
    told = [r.getMessage() for r in caplog.records]
    assert sum("skipping bad sample" in m and f"{csv}:6" in m for m in told) == 1
    assert sum("skipped 1 bad sample(s)" in m for m in told) == 1


# ---------------------------------------------------------------------------------------------- flip
def test_flip_pairs_from_left_right_names(tmp_path: Path) -> None:
    ds = DLCProject(single_project(tmp_path / "p"), split="all")
    assert ds.meta.flip_index == [0, 2, 1, 3]
    assert ds.meta.flip_note == "flip pairs (derived from names): leftear<->rightear"
    summary = KeypointDataModule(train=ds, num_workers=0).summary()
    assert "leftear<->rightear" in summary and "snout, leftear, rightear, tailbase" in summary


def _flips(ds: DLCProject, draws: int = 20) -> list[bool]:
    return [bool(ds[i % len(ds)]["flipped"]) for i in range(draws)]


def test_side_codes_turn_flip_off(tmp_path: Path) -> None:
    root = single_project(tmp_path / "paws", names=PAWS)
    aug = KeypointTransform(input_size=None, train=True, flip_prob=1.0)
    ds = DLCProject(root, split="all", transform=aug)
    assert ds.meta.keypoint_names == PAWS and ds.meta.flip_index is None
    note = ds.meta.flip_note
    assert note.startswith("flip off:") and "paw1LH_top" in note and "dataset.flip_pairs=[[paw1LH_top" in note
    assert "flip off" in KeypointDataModule(train=ds, num_workers=0).summary()
    # flip_prob = 1, but the sides are unknown: never flipped
    assert _flips(ds) == [False] * 20
    # the same pipeline with the pairs given by name flips every draw
    paired = DLCProject(root, split="all", transform=aug, flip_pairs=PAW_PAIRS)
    assert paired.meta.flip_index == [0, 4, 3, 2, 1]
    assert paired.meta.flip_note == "flip pairs (dataset.flip_pairs): paw1LH_top<->paw4RH_top, paw2LF_top<->paw3RF_top"
    assert _flips(paired) == [True] * 20
    # by index and name mixed
    assert DLCProject(root, split="all", flip_pairs=[[1, "paw4RH_top"], [2, 3]]).meta.flip_index == [0, 4, 3, 2, 1]
    # [] = no side: identity, flip stays on
    none = DLCProject(root, split="all", transform=aug, flip_pairs=[])
    assert none.meta.flip_index == [0, 1, 2, 3, 4] and none.meta.flip_note.startswith("flip pairs: none")
    assert _flips(none) == [True] * 20
    with pytest.raises(ValueError, match=r"unknown keypoint name 'paw1LH' \(did you mean 'paw1LH_top'\?\)"):
        DLCProject(root, split="all", flip_pairs=[["paw1LH", "paw4RH_top"]])


def test_flipped_sample_is_the_mirrored_permuted_sample(tmp_path: Path) -> None:
    """Same crop with and without flip: flipped keypoints = (W_in - 1 - x, y) of the unflipped ones,
    permuted by flip_index (leftear takes rightear's mirrored position)."""
    ds = DLCProject(single_project(tmp_path / "p", w=640, h=480), split="all")
    rec = ds.records[5]
    params = ds.transform.sample(rec.keypoints, rec.visibility, rec.bbox)
    img = ds.load_image(5)
    plain = ds.transform.apply(img, rec.keypoints, rec.visibility, params)
    flipped = ds.transform.apply(
        img, rec.keypoints, rec.visibility, dataclasses.replace(params, flip=True), ds.meta.flip_index
    )
    assert flipped["flipped"] and not plain["flipped"]
    # unflipped (see test_whole_640x480_frames_sample): [[7, 17.5], [2, 10.5], [3.125, 11.5], [19.5, 25]]
    np.testing.assert_allclose(
        flipped["keypoints"].numpy(), [[312, 17.5], [315.875, 11.5], [317, 10.5], [299.5, 25]], atol=1e-4
    )
    np.testing.assert_allclose(flipped["orig_keypoints"].numpy(), [[15, 20], [7.25, 8], [5, 6], [40, 35]])
    np.testing.assert_array_equal(torch.flip(flipped["image"], [2]).numpy(), plain["image"].numpy())


def mirror(kps: np.ndarray, index: Sequence[int], width: float) -> np.ndarray:
    """A horizontal flip of labels: x -> W - 1 - x, then channel k takes keypoint index[k]."""
    out = kps.copy()
    out[:, 0] = width - 1 - out[:, 0]
    return out[list(index)]


@pytest.mark.parametrize(
    "names, expected",
    [
        (["snout", "leftear", "rightear", "tailbase"], [0, 2, 1, 3]),
        (["nose", "left_ear", "right_ear", "tail_base"], [0, 2, 1, 3]),
        (["LeftEar", "Nose", "RightEar", "TailBase"], [2, 1, 0, 3]),
        (["ear_l", "tail", "ear_r", "nose"], [2, 1, 0, 3]),
        (["l_ear", "r_ear", "snout", "l_paw"], None),  # l_paw has no r_paw: flip off
        (["l_ear", "r_ear", "snout", "tail"], [1, 0, 2, 3]),
        (["Nearfore", "Offfore", "Nearhind", "Offhind"], [1, 0, 3, 2]),
    ],
)
def test_flipping_twice_is_the_identity(names: list[str], expected: list[int] | None) -> None:
    flip = resolve_flip_index(names)
    assert flip.index == expected
    if expected is None:
        assert flip.summary.startswith("flip off") and "l_paw (no r_paw)" in flip.summary
        return
    # a sample's labels (frame 5 of the projects above) in a 320-wide input
    kps = np.array([[7.0, 17.5], [2.0, 10.5], [3.125, 11.5], [19.5, 25.0]])
    once = mirror(kps, flip.index, 320)
    assert not np.allclose(once, kps)
    np.testing.assert_allclose(mirror(once, flip.index, 320), kps)
    np.testing.assert_allclose(once[:, 0], 319 - kps[flip.index, 0])


# ------------------------------------------------------------------------------ whole-frame helpers
def test_whole_frame_helpers() -> None:
    assert whole_frame_input_size([(640, 480)]) == (320, 256)
    assert whole_frame_input_size([(480, 640)]) == (256, 320)
    assert whole_frame_input_size([(1920, 1080)]) == (448, 256)  # 256 * 16/9 = 455.1 -> 448
    assert whole_frame_input_size([(512, 512)]) == (256, 256)
    assert whole_frame_input_size([(640, 480), (640, 480), (1920, 1080)]) == (320, 256)  # the median aspect
    assert is_whole_frame([0, 0, 640, 480], 640, 480)
    assert is_whole_frame([5, 5, 630, 470], 640, 480)  # within 2 % of every side
    assert not is_whole_frame([0, 0, 600, 480], 640, 480)
    assert not is_whole_frame([100, 50, 120, 300], 640, 480)
    t = with_default_sizes(None, [(640, 480)])
    assert t.input_size == (320, 256) and t.padding == 1.0 and not t.train
    t = with_default_sizes(None, None)
    assert t.input_size == (192, 256) and t.padding == 1.25
    fixed = KeypointTransform(input_size=(64, 64), padding=1.1)
    assert with_default_sizes(fixed, [(640, 480)]) is fixed


def test_collate_and_datamodule(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", w=640, h=480)
    train = DLCProject(root, split="train", val_fraction=0.25)
    val = DLCProject(root, split="val", val_fraction=0.25)
    batch = collate([val[0], val[1]])
    assert batch["image"].shape == (2, 3, 256, 320) and batch["keypoints"].shape == (2, 4, 2)
    assert batch["flipped"].tolist() == [False, False] and len(batch["image_path"]) == 2
    dm = KeypointDataModule(train=train, val=val, batch_size=4, num_workers=0)
    assert dm.meta.input_size == (320, 256)
    assert "train: 6 instances on 6 images" in dm.summary() and "val: 2 instances on 2 images" in dm.summary()
    b = next(iter(dm.train_dataloader()))
    assert b["image"].shape == (4, 3, 256, 320) and len(dm.train_dataloader()) == 1  # 6 // 4, drop_last
    gt = dm.ground_truth("val")  # val frames as in test_split_by_fraction
    assert sorted(img["id"] for img in gt["images"]) == [5, 6] and len(gt["annotations"]) == 2


# ----------------------------------------------------------------------------- CocoFormat whole frames
def coco_json(root: Path, boxes: list[list[float]], w: int = 640, h: int = 480) -> Path:
    """One w x h image per box, 3 keypoints (nose, left_eye, right_eye) inside every box."""
    images, anns = [], []
    for i, (x, y, bw, bh) in enumerate(boxes, start=1):
        frame(root / f"f{i}.png", w, h)
        images.append({"id": i, "file_name": f"f{i}.png", "width": w, "height": h})
        kps = [x + bw / 2, y + 10, 2, x + bw / 2 + 10, y + 5, 2, x + bw / 2 - 10, y + 5, 1]
        anns.append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "bbox": [x, y, bw, bh],
                "area": bw * bh,
                "iscrowd": 0,
                "num_keypoints": 3,
                "keypoints": kps,
            }
        )
    cats = [{"id": 1, "name": "mouse", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": [[1, 2], [1, 3]]}]
    path = root / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def test_coco_format_whole_frames(tmp_path: Path) -> None:
    ann = coco_json(tmp_path / "whole", [[0, 0, 640, 480], [0, 0, 640, 480]])
    ds = CocoFormat(ann)
    assert ds.meta.input_size == (320, 256) and ds.meta.padding == 1.0
    assert ds.transform.input_size == (320, 256) and ds[0]["image"].shape == (3, 256, 320)
    assert ds.meta.flip_index == [0, 2, 1]
    # an augmenting pipeline with open choices gets them too
    aug = CocoFormat(ann, transform=KeypointTransform(input_size=None, train=True))
    assert aug.meta.input_size == (320, 256) and aug.meta.padding == 1.0 and aug.transform.train
    # an explicit input size is kept (the padding, left open, still follows the whole frames)
    fixed = CocoFormat(ann, transform=KeypointTransform(input_size=(256, 256)))
    assert fixed.meta.input_size == (256, 256) and fixed.meta.padding == 1.0
    assert CocoFormat(ann, input_size=(128, 96)).meta.input_size == (128, 96)
    both = CocoFormat(ann, transform=KeypointTransform(input_size=(256, 256), padding=1.25))
    assert both.meta.input_size == (256, 256) and both.meta.padding == 1.25


def test_coco_format_person_like_boxes(tmp_path: Path) -> None:
    ann = coco_json(tmp_path / "boxes", [[100, 50, 120, 300], [300, 100, 150, 200]])
    ds = CocoFormat(ann)
    assert ds.meta.input_size == (192, 256) and ds.meta.padding == 1.25
    # one whole frame is not enough: every box must be its image
    mixed = CocoFormat(coco_json(tmp_path / "mixed", [[0, 0, 640, 480], [100, 50, 120, 300]]))
    assert mixed.meta.input_size == (192, 256) and mixed.meta.padding == 1.25
