"""DeepLabCut projects as labs keep them: the default skeleton, a non-UTF-8 config.yaml, a semicolon CSV,
.h5-only label folders, a scalar dataset.sigmas (issue 19, items 8 and 14)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from lit_heatmap.data import CocoFormat, DLCProject
from lit_heatmap.data.dlc import read_project_skeleton
from lit_heatmap.data.validation import BadSampleError
from tests.data.test_data_dlc_project import NAMES, coco_json, single_project


def test_default_skeleton_after_renaming_is_dropped_with_one_warning(tmp_path: Path, caplog) -> None:
    (tmp_path / "config.yaml").write_text(
        "skeleton:\n- - bodypart1\n  - bodypart2\n- - objectA\n  - bodypart3\n- - snout\n  - tailbase\n"
    )
    with caplog.at_level(logging.WARNING, logger="lit_heatmap.data"):
        assert read_project_skeleton(tmp_path, ["snout", "tailbase"]) == [(0, 1)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "[['bodypart1', 'bodypart2'], ['objectA', 'bodypart3']]" in warnings[0]


def test_non_utf8_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_bytes(
        "Task: souris\nscorer: Ren\xe9\nskeleton:\n- [snout, tailbase]\n".encode("cp1252")
    )
    assert read_project_skeleton(tmp_path, ["snout", "tailbase"]) == [(0, 1)]


def test_semicolon_csv_names_the_separator(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", n=3)
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    csv.write_text(csv.read_text().replace(",", ";"))
    with pytest.raises(BadSampleError, match=rf"{csv}:1: the cells are separated by ';', not ','"):
        DLCProject(root, split="all")


def test_h5_only_folder_is_read(tmp_path: Path) -> None:
    """A folder with only CollectedData_*.h5 (pandas + tables installed): the same records as its CSV."""
    root = single_project(tmp_path / "p", n=4)
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    expected = DLCProject(root, split="all").records
    df = pd.read_csv(csv, header=[0, 1, 2], index_col=0)  # pandas as the oracle of the CSV layout
    df.to_hdf(csv.with_suffix(".h5"), key="df_with_missing", mode="w")
    csv.unlink()
    got = DLCProject(root, split="all").records
    assert [r.image_path for r in got] == [r.image_path for r in expected]
    for a, b in zip(got, expected):
        assert a.keypoints.tolist() == b.keypoints.tolist() and a.visibility.tolist() == b.visibility.tolist()


def test_h5_only_folder_without_pandas_says_so(tmp_path: Path, monkeypatch) -> None:
    root = single_project(tmp_path / "p", n=2)
    csv = root / "labeled-data" / "vid1" / "CollectedData_Alice.csv"
    csv.rename(csv.with_suffix(".h5"))
    monkeypatch.setattr("lit_heatmap.data.dlc.h5_reader", lambda: None)
    with pytest.raises(
        FileNotFoundError,
        match=r"only CollectedData_Alice.h5; reading DeepLabCut's .h5 label files needs pandas and tables",
    ):
        DLCProject(root, split="all")


def test_scalar_sigmas(tmp_path: Path) -> None:
    root = single_project(tmp_path / "p", n=2)
    assert DLCProject(root, split="all", sigmas=0.1).meta.sigmas == [0.1] * len(NAMES)
    ann = coco_json(tmp_path / "c", [[0, 0, 640, 480]])
    assert CocoFormat(ann, sigmas=0.08).meta.sigmas == [0.08] * 3
    with pytest.raises(ValueError, match="dataset.sigmas has 2 entries but the project has 4 bodyparts"):
        DLCProject(root, split="all", sigmas=[0.1, 0.1])
