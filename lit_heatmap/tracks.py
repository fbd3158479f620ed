"""Per-video keypoint tables in DeepLabCut's layout: CSV (always), HDF5 (with ``tables``), median filter.

The layout is the one ``deeplabcut.analyze_videos`` writes and lightning-pose, keypoint-MoSeq, SimBA
and B-SOiD read: header rows ``scorer`` / (``individuals``) / ``bodyparts`` / ``coords``, coords
``x``, ``y``, ``likelihood`` per bodypart, the frame index as the first column, one row per frame,
coordinates in original pixels, a missing value as an empty field (NaN)::

    scorer,lit_heatmap,lit_heatmap,lit_heatmap,...
    bodyparts,nose,nose,nose,...
    coords,x,y,likelihood,...
    0,312.5,201.25,0.93,...

``pandas.read_csv(path, header=[0, 1, 2], index_col=0)`` reads it back (``header=[0, 1, 2, 3]`` with
individuals). Pure functions over arrays; pandas is only needed for the ``.h5`` copy.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SCORER",
    "header_rows",
    "table_rows",
    "write_csv",
    "write_h5",
    "h5_available",
    "median_filter",
    "write_json",
]

SCORER = "lit_heatmap"
H5_KEY = "df_with_missing"  # DeepLabCut's key


def header_rows(bodyparts: Sequence[str], individuals: Sequence[str] | None = None, scorer: str = SCORER) -> list[list]:
    """The header rows (first cell: the level name), 3 columns per bodypart (and individual)."""
    inds = list(individuals) if individuals else [None]
    cols = [(ind, bp, c) for ind in inds for bp in bodyparts for c in ("x", "y", "likelihood")]
    rows = [["scorer"] + [scorer] * len(cols)]
    if individuals:
        rows.append(["individuals"] + [c[0] for c in cols])
    rows.append(["bodyparts"] + [c[1] for c in cols])
    rows.append(["coords"] + [c[2] for c in cols])
    return rows


def table_rows(frame_index: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``keypoints (N, I, K, 2)``, ``scores (N, I, K)`` -> the ``(N, I*K*3)`` float64 table body
    (x, y, likelihood per keypoint, individuals outermost), rows in the order of ``frame_index (N,)``."""
    n, i, k = scores.shape
    body = np.concatenate([keypoints.astype(np.float64), scores[..., None].astype(np.float64)], -1)
    if len(frame_index) != n:
        raise ValueError(f"{len(frame_index)} frame indices for {n} rows")
    return body.reshape(n, i * k * 3)


def _cell(v: float) -> str:
    return "" if not np.isfinite(v) else repr(float(v))


def _replace(tmp: Path, path: Path) -> Path:
    os.replace(tmp, path)
    return path


def write_csv(
    path: str | Path,
    frame_index: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    bodyparts: Sequence[str],
    individuals: Sequence[str] | None = None,
) -> Path:
    """Writes the table (see the module doc) atomically: a crash never leaves a partial ``path``.

    Args:
        frame_index: ``(N,)`` the frame numbers (first column).
        keypoints: ``(N, I, K, 2)`` original pixels (NaN: no prediction).
        scores: ``(N, I, K)`` the likelihoods.
        bodyparts: K names.
        individuals: I names for the multi-animal layout (4 header rows); None: single animal (I = 1).
    """
    path = Path(path)
    if individuals is None and keypoints.shape[1] != 1:
        raise ValueError(f"{keypoints.shape[1]} instances per frame need individuals names")
    body = table_rows(frame_index, keypoints, scores)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerows(header_rows(bodyparts, individuals))
        for idx, row in zip(frame_index.tolist(), body):
            w.writerow([int(idx)] + [_cell(v) for v in row])
    return _replace(tmp, path)


def h5_available() -> bool:
    """True when pandas and PyTables are installed (the ``[video]`` extra)."""
    try:
        import pandas  # noqa: F401
        import tables  # noqa: F401
    except ImportError:
        return False
    return True


def write_h5(
    path: str | Path,
    frame_index: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    bodyparts: Sequence[str],
    individuals: Sequence[str] | None = None,
) -> Path:
    """The same table as a pandas DataFrame in HDF5 (key ``df_with_missing``, as DeepLabCut)."""
    import pandas as pd

    path = Path(path)
    levels = header_rows(bodyparts, individuals)
    columns = pd.MultiIndex.from_arrays([r[1:] for r in levels], names=[r[0] for r in levels])
    frame = pd.DataFrame(
        table_rows(frame_index, keypoints, scores), index=frame_index.astype(np.int64), columns=columns
    )
    tmp = path.with_name(path.stem + ".partial.h5")
    frame.to_hdf(tmp, key=H5_KEY, mode="w", format="table")
    return _replace(tmp, path)


def median_filter(values: np.ndarray, window: int = 5) -> np.ndarray:
    """Centred running median over axis 0 of ``values (N, ...)`` with an odd ``window``, ignoring NaN
    (a window of NaN only stays NaN); the ends use the shorter windows there. Rows that are NaN in
    ``values`` stay NaN (a frame without a prediction gets none)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"filter_window={window}: use an odd window >= 1")
    v = np.asarray(values, dtype=np.float64)
    if window == 1 or len(v) == 0:
        return v.copy()
    half = window // 2
    pad = np.concatenate([np.full((half, *v.shape[1:]), np.nan), v, np.full((half, *v.shape[1:]), np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)  # (N, ..., window)
    with np.errstate(all="ignore"), _no_nan_warning():
        out = np.nanmedian(windows, axis=-1)
    out[np.isnan(v)] = np.nan
    return out


class _no_nan_warning:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """A small JSON file, written atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2))
    return _replace(tmp, path)
