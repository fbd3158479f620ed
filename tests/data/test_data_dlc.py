"""DeepLabCut / lightning-pose label files: every header and index layout, boxes, ids, skeleton, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lit_heatmap.data.dlc import find_label_files, read_label_csv, read_labels, read_project_skeleton
from lit_heatmap.data.dlc_dataset import dlc_records, split_records
from lit_heatmap.data.validation import BadSampleError, BadSamples

NAN = float("nan")


def image(path: Path, w: int = 64, h: int = 48, gray: bool = False) -> Path:
    """A real frame: PNG or JPEG by suffix, RGB or grayscale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (h, w) if gray else (h, w, 3)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)).save(path)
    return path


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def load(root: Path, policy: str = "raise", csv: str | None = None) -> tuple[list, BadSamples]:
    bad = BadSamples(policy, str(root))
    return dlc_records(read_labels(root, csv, bad), bad), bad


# ------------------------------------------------------------------------- single animal, 1-column index
@pytest.fixture
def single(tmp_path: Path) -> Path:
    """DeepLabCut < 2.2: 3 header rows, one index column; an RGB and a grayscale PNG, an unlabelled row."""
    root = tmp_path / "openfield"
    image(root / "labeled-data" / "vid1" / "img000.png")
    image(root / "labeled-data" / "vid1" / "img001.png", gray=True)
    image(root / "labeled-data" / "vid1" / "img002.png")
    write(
        root / "labeled-data" / "vid1" / "CollectedData_Alice.csv",
        "scorer,Alice,Alice,Alice,Alice,Alice,Alice",
        "bodyparts,snout,snout,leftear,leftear,rightear,rightear",
        "coords,x,y,x,y,x,y",
        "labeled-data/vid1/img000.png,12.5,30.1,,,20,10",
        "labeled-data\\vid1\\img001.png,NaN,NaN,5,6,7.25,8",
        "labeled-data/vid1/img002.png,,,,,,",
    )
    return root


def test_single_animal_one_index_column(single: Path) -> None:
    csv = single / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    assert find_label_files(single) == [csv]
    labels = read_label_csv(csv, single)
    assert labels.scorer == "Alice" and labels.individuals == ["single"] and not labels.multi_animal
    assert labels.bodyparts == ["snout", "leftear", "rightear"] and labels.num_rows == 3
    assert [(f.line, f.row) for f in labels.frames] == [(4, 0), (5, 1), (6, 2)]
    assert [f.image for f in labels.frames] == [single / "labeled-data" / "vid1" / f"img00{i}.png" for i in range(3)]
    np.testing.assert_array_equal(labels.frames[0].keypoints, [[[12.5, 30.1], [NAN, NAN], [20, 10]]])
    np.testing.assert_array_equal(labels.frames[1].keypoints, [[[NAN, NAN], [5, 6], [7.25, 8]]])
    assert labels.frames[0].keypoints.dtype == np.float64 and np.isnan(labels.frames[2].keypoints).all()


def test_single_animal_records_whole_frame(single: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="lit_heatmap.data"):
        records, bad = load(single)
    assert "left out 1 frame(s) without any labelled keypoint" in caplog.text and bad.count == 0
    csv = single / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    assert [r.where for r in records] == [f"{csv}:4", f"{csv}:5"]
    assert [r.image_id for r in records] == [0, 1]
    for r in records:
        assert r.bbox.tolist() == [0, 0, 64, 48] and r.score == 1
    # metric scale: the labelled extent, floor 0.05 * 64 = 3.2 px: frame 0 7.5 x 20.1; frame 1 2.25 x 2 -> floor
    assert records[0].norm == pytest.approx(20.1) and records[0].area == pytest.approx(7.5 * 20.1)
    assert records[1].norm == pytest.approx(3.2) and records[1].area == pytest.approx(3.2 * 3.2)
    assert records[0].keypoints.tolist() == [[12.5, 30.1], [0, 0], [20, 10]]
    assert records[0].visibility.tolist() == [1, 0, 1] and records[1].visibility.tolist() == [0, 1, 1]
    assert records[1].keypoints.tolist() == [[0, 0], [5, 6], [7.25, 8]]
    assert records[1].image_path == single / "labeled-data" / "vid1" / "img001.png"


# ------------------------------------------------------------------------- single animal, 3-column index
@pytest.fixture
def dlc22(tmp_path: Path) -> Path:
    """DeepLabCut >= 2.2: three index columns, two video folders (a PNG and a JPEG), a config.yaml."""
    root = tmp_path / "reaching"
    image(root / "labeled-data" / "vid1" / "img000.png")
    image(root / "labeled-data" / "vid2" / "img000.jpg", 48, 64)  # portrait
    write(
        root / "labeled-data" / "vid1" / "CollectedData_Alice.csv",
        "scorer,,,Alice,Alice,Alice,Alice",
        "bodyparts,,,snout,snout,tailbase,tailbase",
        "coords,,,x,y,x,y",
        "labeled-data,vid1,img000.png,10,20,30,40",
        "labeled-data,vid1,img001.png,,,,",
    )
    write(
        root / "labeled-data" / "vid2" / "CollectedData_Alice.csv",
        "scorer,,,Alice,Alice,Alice,Alice",
        "bodyparts,,,snout,snout,tailbase,tailbase",
        "coords,,,x,y,x,y",
        "labeled-data,vid2,img000.jpg,1.5,2.5,40,60",
    )
    write(
        root / "config.yaml",
        "Task: reaching",
        "scorer: Alice",
        "bodyparts:",
        "- snout",
        "- tailbase",
        "skeleton:",
        "- - tailbase",
        "  - snout",
        "skeleton_color: black",
    )
    (root / "labeled-data" / "empty-video").mkdir()
    return root


def test_three_index_columns_and_image_ids_over_files(dlc22: Path) -> None:
    files = find_label_files(dlc22)
    assert [f.parent.name for f in files] == ["vid1", "vid2"]
    labels = read_labels(dlc22, None, BadSamples("raise", "x"))
    assert [lab.num_rows for lab in labels] == [2, 1]
    assert labels[1].frames[0].image == dlc22 / "labeled-data" / "vid2" / "img000.jpg"
    records, _ = load(dlc22)
    # ids: the running data-row number over the sorted files; vid1's unlabelled row keeps number 1
    assert [r.image_id for r in records] == [0, 2]
    assert records[0].keypoints.tolist() == [[10, 20], [30, 40]] and records[0].bbox.tolist() == [0, 0, 64, 48]
    assert records[1].bbox.tolist() == [0, 0, 48, 64] and records[1].where == f"{files[1]}:4"


def test_project_skeleton(dlc22: Path, tmp_path: Path) -> None:
    assert read_project_skeleton(dlc22, ["snout", "tailbase"]) == [(1, 0)]
    assert read_project_skeleton(tmp_path, ["snout"]) == []  # no config.yaml (lightning-pose)
    write(tmp_path / "config.yaml", "Task: x", "skeleton: []")
    assert read_project_skeleton(tmp_path, ["snout"]) == []


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            ["skeleton:", "- [snout, tailbase]", "- [snout, tailbase, snout]"],
            r"config.yaml: skeleton edge 2 .* must be two bodypart names",
        ),
        (["skeleton: [[snout, tailbase]", "bodyparts: ]"], r"config.yaml: not a readable YAML file"),
    ],
)
def test_project_skeleton_errors_name_config(tmp_path: Path, lines: list[str], message: str) -> None:
    write(tmp_path / "config.yaml", *lines)
    with pytest.raises(BadSampleError, match=message):
        read_project_skeleton(tmp_path, ["snout", "tailbase"])


# ------------------------------------------------------------------------------------- multi-animal
@pytest.fixture
def multi(tmp_path: Path) -> Path:
    root = tmp_path / "trimice"
    image(root / "labeled-data" / "vid1" / "img000.png")
    image(root / "labeled-data" / "vid1" / "img001.png")
    write(
        root / "labeled-data" / "vid1" / "CollectedData_Alice.csv",
        "scorer,,,Alice,Alice,Alice,Alice,Alice,Alice,Alice,Alice",
        "individuals,,,mus1,mus1,mus1,mus1,mus2,mus2,mus2,mus2",
        "bodyparts,,,snout,snout,tail,tail,snout,snout,tail,tail",
        "coords,,,x,y,x,y,x,y,x,y",
        "labeled-data,vid1,img000.png,10,10,30,20,,,,",
        "labeled-data,vid1,img001.png,10,10,30,20,62,46,NaN,NaN",
    )
    return root


def test_multi_animal_labels(multi: Path) -> None:
    labels = read_label_csv(multi / "labeled-data" / "vid1" / "CollectedData_Alice.csv", multi)
    assert labels.multi_animal and labels.individuals == ["mus1", "mus2"] and labels.bodyparts == ["snout", "tail"]
    np.testing.assert_array_equal(labels.frames[1].keypoints, [[[10, 10], [30, 20]], [[62, 46], [NAN, NAN]]])


def test_multi_animal_records_padded_extent(multi: Path) -> None:
    records, _ = load(multi)
    csv = multi / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    assert [r.where for r in records] == [
        f"{csv}:5, individual mus1",
        f"{csv}:6, individual mus1",
        f"{csv}:6, individual mus2",
    ]
    assert [r.image_id for r in records] == [0, 1, 1]
    # extent 20 x 10 -> pad 0.1 * 20 + 4 = 6 on every side
    assert records[0].bbox.tolist() == [4, 4, 32, 22] and records[0].area == 200 and records[0].norm == 20
    assert records[1].bbox.tolist() == [4, 4, 32, 22]
    # one point (62, 46): a 3.2 px square (0.05 * 64) 60.4 .. 63.6, pad 0.1 * 3.2 + 4 = 4.32, clipped to 64 x 48
    np.testing.assert_allclose(records[2].bbox, [56.08, 40.08, 7.92, 7.92])
    assert records[2].area == pytest.approx(3.2 * 3.2) and records[2].norm == pytest.approx(3.2)
    assert records[2].keypoints.tolist() == [[62, 46], [0, 0]] and records[2].visibility.tolist() == [1, 0]
    bad = BadSamples("raise", "x")
    wide = dlc_records(read_labels(multi, None, bad), bad, pad_fraction=0.5, pad_px=0)
    assert wide[0].bbox.tolist() == [0, 0, 40, 30]
    tight = dlc_records(read_labels(multi, None, bad), bad, pad_fraction=0, pad_px=0)
    assert tight[0].bbox.tolist() == [9, 9, 22, 12] and np.allclose(
        tight[2].bbox, [59.4, 43.4, 4.6, 4.6]
    )  # 1 px at least


def test_split_records_by_frame(multi: Path) -> None:
    records, _ = load(multi)
    train, val = split_records(records, 0.5, seed=0)
    assert len({r.image_id for r in train}) == 1 and len({r.image_id for r in val}) == 1
    assert sorted(map(id, train + val)) == sorted(map(id, records))
    assert len(train + val) == 3 and {len(train), len(val)} == {1, 2}  # both mus of frame 1 on one side
    assert split_records(records, 0.5, seed=0) == (train, val)


# -------------------------------------------------------------------------------- lightning-pose
@pytest.fixture
def lp(tmp_path: Path) -> Path:
    root = tmp_path / "ibl-paw"
    image(root / "labeled-data" / "sess1" / "img000004.jpg")
    write(
        root / "CollectedData.csv",
        "scorer,rick,rick,rick,rick",
        "bodyparts,paw_l,paw_l,paw_r,paw_r",
        "coords,x,y,x,y",
        "labeled-data/sess1/img000004.jpg,3,4,50,40",
    )
    return root


def test_lightning_pose_top_level_csv(lp: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"labeled-data: no label file; expected <video>/CollectedData_"
        r"<scorer>.csv .*1 found: sess1.*set dataset.csv=CollectedData.csv",
    ):
        find_label_files(lp)
    assert find_label_files(lp, "CollectedData.csv") == [lp / "CollectedData.csv"]
    assert find_label_files(lp.parent, lp / "CollectedData.csv") == [lp / "CollectedData.csv"]
    records, _ = load(lp, csv="CollectedData.csv")
    assert len(records) == 1 and records[0].image_id == 0 and records[0].where == f"{lp / 'CollectedData.csv'}:4"
    assert records[0].keypoints.tolist() == [[3, 4], [50, 40]] and records[0].bbox.tolist() == [0, 0, 64, 48]
    assert read_project_skeleton(lp, ["paw_l", "paw_r"]) == []


def test_find_label_files_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope does not exist.*dataset.root="):
        find_label_files(tmp_path / "nope")
    with pytest.raises(
        FileNotFoundError,
        match=rf"{tmp_path}: no labeled-data/ folder; expected "
        r"labeled-data/<video>/CollectedData_<scorer>.csv",
    ):
        find_label_files(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"label file .*other.csv not found; set dataset.csv="):
        find_label_files(tmp_path, "other.csv")
    (tmp_path / "labeled-data").mkdir()
    with pytest.raises(FileNotFoundError, match=r"labeled-data: no label file.*\(0 found: none\)"):
        find_label_files(tmp_path)


# ------------------------------------------------------------------------------------ bad rows
GOOD_4 = "labeled-data,vid1,img000.png,1,2,3,4"
GOOD_6 = "labeled-data,vid1,img002.png,5,6,7,8"


@pytest.fixture
def with_row(tmp_path: Path):
    """with_row(line5) -> project root whose CSV has a good line 4, ``line5``, and a good line 6."""

    def make(line5: str) -> Path:
        root = tmp_path / "proj"
        for name in ("img000.png", "img001.png", "img002.png"):
            image(root / "labeled-data" / "vid1" / name)
        (root / "labeled-data" / "vid1" / "broken.png").write_bytes(b"not an image" * 20)
        write(
            root / "labeled-data" / "vid1" / "CollectedData_Alice.csv",
            "scorer,,,Alice,Alice,Alice,Alice",
            "bodyparts,,,snout,snout,tail,tail",
            "coords,,,x,y,x,y",
            GOOD_4,
            line5,
            GOOD_6,
        )
        return root

    return make


@pytest.mark.parametrize(
    "line5, message",
    [
        ("labeled-data,vid1,img001.png,abc,2,3,4", r"snout x = 'abc' is not a number"),
        ("labeled-data,vid1,img001.png,1,inf,3,4", r"snout y = 'inf' is not a number"),
        ("labeled-data,vid1,img001.png,1,2,3", r"6 columns, the header has 7"),
        ("labeled-data,vid1,img001.png,1,2,3,4,5", r"8 columns, the header has 7"),
        ("labeled-data,vid1,img001.png,1,,3,4", r"snout has only one of x and y \[1.0, nan\]"),
        ("labeled-data,vid1,img001.png,1,2,,4", r"tail has only one of x and y \[nan, 4.0\]"),
        ("labeled-data,vid1,img001.png,1,2,-3,4", r"tail lies left of or above the image \(< -0.5\) \[-3.0, 4.0\]"),
        ("labeled-data,vid1,img000.png,1,2,3,4", r"image labeled-data/vid1/img000.png is already labelled on line 4"),
        ("labeled-data,,img001.png,1,2,3,4", r"empty image path cell"),
        ("labeled-data,vid1,img009.png,1,2,3,4", r"image file .*img009.png not found"),
        ("labeled-data,vid1,broken.png,1,2,3,4", r"cannot read the size of image file .*broken.png"),
        ("labeled-data,vid1,img001.png,1,2,64.5,4", r"tail at \[64.5, 4.0\] lies outside the 64x48 image .*img001"),
        ("labeled-data,vid1,img001.png,1,48.5,3,4", r"snout at \[1.0, 48.5\] lies outside the 64x48 image"),
    ],
)
def test_bad_row_raises_or_is_skipped(with_row, caplog, line5: str, message: str) -> None:
    root = with_row(line5)
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    with pytest.raises(BadSampleError, match=rf"{csv}:5: {message}.*on_bad_sample=skip"):
        load(root)
    with caplog.at_level(logging.WARNING, logger="lit_heatmap.data"):
        records, bad = load(root, "skip")
    assert bad.count == 1 and "skipping bad sample" in caplog.text and f"{csv}:5" in bad.messages[0]
    assert [r.where for r in records] == [f"{csv}:4", f"{csv}:6"] and [r.image_id for r in records] == [0, 2]


def test_edge_coordinates_are_inside(with_row) -> None:
    """Pixel centres at integers: a 64x48 image spans [-0.5, 63.5] x [-0.5, 47.5] (x=-0.2 was refused, x=64 kept)."""
    records, _ = load(with_row("labeled-data,vid1,img001.png,-0.2,-0.5,63.5,47.5"))
    assert records[1].keypoints.tolist() == [[-0.2, -0.5], [63.5, 47.5]] and records[1].visibility.tolist() == [1, 1]
    with pytest.raises(BadSampleError, match=r"tail at \[64.0, 47.0\] lies outside the 64x48 image"):
        load(with_row("labeled-data,vid1,img001.png,0,0,64,47"))
    with pytest.raises(BadSampleError, match=r"snout lies left of or above the image \(< -0.5\) \[-0.6, 0.0\]"):
        load(with_row("labeled-data,vid1,img001.png,-0.6,0,1,1"))


def test_image_in_two_files_is_reported(dlc22: Path) -> None:
    csv2 = dlc22 / "labeled-data" / "vid2" / "CollectedData_Alice.csv"
    with csv2.open("a") as f:
        f.write("labeled-data,vid1,img000.png,1,2,3,4\n")
    with pytest.raises(BadSampleError, match=rf"{csv2}:5: image .*vid1/img000.png is already labelled at .*vid1/"):
        load(dlc22)
    records, bad = load(dlc22, "skip")
    assert bad.count == 1 and [r.image_id for r in records] == [0, 2]


def test_no_labelled_frame(with_row) -> None:
    root = with_row("labeled-data,vid1,img001.png,,,,")
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    csv.write_text("\n".join(csv.read_text().splitlines()[:3] + ["labeled-data,vid1,img001.png,,,,"]) + "\n")
    with pytest.raises(ValueError, match=r"CollectedData_Alice.csv: no frame with a labelled keypoint \(1 unlabelled"):
        load(root)


# ---------------------------------------------------------------------------------- bad headers
SINGLE_ROWS = ["labeled-data/v/img.png,1,2,3,4"]
MULTI_ROWS = ["labeled-data,v,img.png,1,2,3,4"]


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], r":1: unknown header layout \[\]"),
        (
            ["bodyparts,a,a", "coords,x,y", "img.png,1,2"],
            (
                r":1: unknown header layout \['bodyparts', 'coords'\]; "
                r"expected scorer/bodyparts/coords"
            ),
        ),
        (["scorer,A,A", "bodyparts,a,a", "img.png,1,2"], r":1: unknown header layout \['scorer', 'bodyparts'\]"),
        (["scorer,A,A", "individuals,m,m", "coords,x,y"], r":1: unknown header layout"),
        (["scorer", "bodyparts", "coords"], r":3: the header has no keypoint columns"),
        (
            ["scorer,A,A,A,A", "bodyparts,a,a,b", "coords,x,y,x,y", *SINGLE_ROWS],
            (
                r":2: 4 header cells, the coords "
                r"row has 5"
            ),
        ),
        (
            ["scorer,A,A,A,A", "bodyparts,a,a,,b", "coords,x,y,x,y", *SINGLE_ROWS],
            (
                r":2: header row 'bodyparts' has "
                r"empty or misplaced cells"
            ),
        ),
        (
            ["scorer,A,A,A", "bodyparts,a,a,a", "coords,x,y,likelihood", "img.png,1,2,0.9"],
            r":3: 'likelihood' columns: this is a file of predictions, not labels",
        ),
        (["scorer,A,A,A,A", "bodyparts,a,a,b,b", "coords,x,y,x,z", *SINGLE_ROWS], r":3: coordinate 'z' for b"),
        (["scorer,A,A,A,A", "bodyparts,a,a,a,b", "coords,x,y,x,y", *SINGLE_ROWS], r":3: a second 'x' for a"),
        (
            ["scorer,A,A,A", "bodyparts,a,a,b", "coords,x,y,x", "img.png,1,2,3"],
            (
                r":3: no x/y columns for b; "
                r"every bodypart needs x and y"
            ),
        ),
        (
            ["scorer,,,A,A,A,A", "individuals,,,m1,m1,m2,m2", "bodyparts,,,a,a,b,b", "coords,,,x,y,x,y", *MULTI_ROWS],
            r":4: no x/y columns for b of m1, a of m2; every individual must have the same bodyparts",
        ),
        (
            [
                "scorer,,,A,A,A,A",
                "individuals,,,m1,m1,single,single",
                "bodyparts,,,a,a,box,box",
                "coords,,,x,y,x,y",
                *MULTI_ROWS,
            ],
            r":4: uniquebodyparts \(individual 'single'\) are not supported",
        ),
    ],
)
def test_bad_header_always_raises(tmp_path: Path, lines: list[str], message: str) -> None:
    csv = write(tmp_path / "CollectedData.csv", *lines)
    for policy in ("raise", "skip"):
        with pytest.raises(BadSampleError, match=rf"{csv}{message}"):
            read_label_csv(csv, tmp_path, BadSamples(policy, "x"))


def test_files_with_different_bodyparts(dlc22: Path) -> None:
    csv2 = dlc22 / "labeled-data" / "vid2" / "CollectedData_Alice.csv"
    csv2.write_text(csv2.read_text().replace("tailbase", "tail"))
    with pytest.raises(
        BadSampleError,
        match=rf"{csv2}: bodyparts \['snout', 'tail'\] differ from "
        r"\['snout', 'tailbase'\] of .*vid1/CollectedData_Alice.csv",
    ):
        load(dlc22)
