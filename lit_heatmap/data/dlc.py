"""DeepLabCut and lightning-pose labelled projects: label CSVs -> checked :class:`Record` lists.

Project layout: DeepLabCut keeps one ``labeled-data/<video>/CollectedData_<scorer>.csv`` per video
folder (next to the ``.h5`` it also writes) and a ``config.yaml`` with the ``skeleton``;
lightning-pose keeps one ``CollectedData.csv`` at the project root. Image paths in the CSVs are
relative to the project root (``labeled-data/<video>/img0042.png``; Windows ``\\`` separators are
accepted).

The CSVs are pandas ``to_csv`` of a DataFrame with MultiIndex columns; the first cell of each header
row is the level name, NaN (an unlabelled keypoint) is an empty cell (``NaN`` is accepted too).
The layout is detected from the header, never configured:

single animal, one index column (DeepLabCut < 2.2, lightning-pose)::

    scorer,Alice,Alice,Alice,Alice
    bodyparts,snout,snout,leftear,leftear
    coords,x,y,x,y
    labeled-data/vid1/img000.png,12.5,30.1,,

three index columns (DeepLabCut >= 2.2: ``labeled-data``, video, image)::

    scorer,,,Alice,Alice,Alice,Alice
    bodyparts,,,snout,snout,leftear,leftear
    coords,,,x,y,x,y
    labeled-data,vid1,img000.png,12.5,30.1,,

multi-animal DeepLabCut: an ``individuals`` row after ``scorer`` (``individuals,,,mouse1,...``); every
individual must have the same bodyparts (``uniquebodyparts``, individual ``single``, are refused).
A video folder with only ``CollectedData_*.h5`` is read through pandas + PyTables (:mod:`.dlc_h5`).

Coordinates are used as written: DeepLabCut (matplotlib) puts pixel centres at integers, as this
package does (docs/architecture.md), so a W-wide image spans x in [-0.5, W - 0.5]. Files with
``likelihood`` columns are predictions, not labels, and are refused. Structural problems of a file
(its header) raise :class:`BadSampleError`; problems of one row (wrong column count, a non-numeric
cell, x without y, x or y < -0.5, an image labelled twice) go to :class:`BadSamples` and drop that
frame under ``skip``; so do a missing or unreadable image and a keypoint outside the image, found
when :mod:`.dlc_dataset` builds records.
Every message names the CSV file and its 1-based line.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .dlc_h5 import h5_reader, h5_rows
from .validation import BadSampleError, BadSamples, check_root

__all__ = [
    "DLCFrame",
    "DLCLabels",
    "find_label_files",
    "read_label_csv",
    "read_label_files",
    "read_labels",
    "read_project_skeleton",
]

log = logging.getLogger("lit_heatmap.data")

_LAYOUTS = {("scorer", "bodyparts", "coords"): False, ("scorer", "individuals", "bodyparts", "coords"): True}
_LEVELS = {"scorer", "individuals", "bodyparts", "coords"}
_EXPECTED = "scorer/bodyparts/coords (single animal) or scorer/individuals/bodyparts/coords (multi-animal)"
SINGLE = "single"  # the individual of single-animal files (and DeepLabCut's name for unique bodyparts)


@dataclass(frozen=True)
class DLCFrame:
    """One labelled frame (a data row of a label CSV).

    Attributes:
        image: the image file, resolved against the project root.
        keypoints: ``(I, K, 2)`` float64 pixel x, y per individual and bodypart; NaN = unlabelled.
        line: the row's 1-based line in the CSV.
        row: the row's 0-based number among the CSV's data rows (bad rows counted too).
    """

    image: Path
    keypoints: np.ndarray
    line: int
    row: int


@dataclass
class DLCLabels:
    """The contents of one label CSV.

    Attributes:
        path: the CSV.
        scorer: the labeller named in the header.
        individuals: I names (``["single"]`` for a single-animal file).
        bodyparts: K names in header order.
        multi_animal: the header has an ``individuals`` row.
        frames: the good rows, in file order.
        num_rows: data rows in the file, bad ones included.
    """

    path: Path
    scorer: str
    individuals: list[str]
    bodyparts: list[str]
    multi_animal: bool
    frames: list[DLCFrame]
    num_rows: int


# ------------------------------------------------------------------------------------- files
def find_label_files(root: str | Path, csv: str | Path | None = None) -> list[Path]:
    """The label CSVs of a project: ``csv`` alone (absolute, or relative to ``root``) when given,
    else every ``root/labeled-data/*/CollectedData_*.csv``, sorted.

    Raises:
        FileNotFoundError: no root, no such ``csv``, or no label file, saying what was expected.
    """
    root = check_root(root, "DeepLabCut project", "a DeepLabCut or lightning-pose project")
    if csv not in (None, ""):
        path = Path(csv).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise FileNotFoundError(f"label file {path} not found; set dataset.csv= to a CSV (relative to {root})")
        return [path]
    top = root / "CollectedData.csv"
    hint = f"; {top} exists (lightning-pose): set dataset.csv=CollectedData.csv" if top.is_file() else ""
    labeled = root / "labeled-data"
    if not labeled.is_dir():
        raise FileNotFoundError(
            f"{root}: no labeled-data/ folder; expected labeled-data/<video>/CollectedData_<scorer>.csv "
            f"(DeepLabCut) or dataset.csv=<label file> (lightning-pose){hint}"
        )
    files = []
    for folder in sorted(p for p in labeled.iterdir() if p.is_dir()):
        files += sorted(folder.glob("CollectedData_*.csv")) or _h5_files(folder)
    if not files:
        videos = sorted(p.name for p in labeled.iterdir() if p.is_dir())
        raise FileNotFoundError(
            f"{labeled}: no label file; expected <video>/CollectedData_<scorer>.csv in its video folders "
            f"({len(videos)} found: {', '.join(videos[:5]) or 'none'}){hint}"
        )
    return files


def _h5_files(folder: Path) -> list[Path]:
    """The ``CollectedData_*.h5`` of a video folder without a CSV: read when pandas and PyTables are
    installed, else refused saying so."""
    h5 = sorted(folder.glob("CollectedData_*.h5"))
    if h5 and h5_reader() is None:
        raise FileNotFoundError(
            f"{folder}: no CollectedData_*.csv, only {h5[0].name}; reading DeepLabCut's .h5 label files needs "
            "pandas and tables (pip install pandas tables), or write the CSV from DeepLabCut "
            "(deeplabcut.convertcsv2h5 / the labelling GUI saves both)"
        )
    if h5:
        log.info("%s: no CollectedData_*.csv, reading %s", folder, h5[0].name)
    return h5


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of every non-blank row, cells stripped (``.h5``: as in its CSV)."""
    if path.suffix.lower() == ".h5":
        return h5_rows(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            return [(reader.line_num, [c.strip() for c in row]) for row in reader if any(c.strip() for c in row)]
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        raise BadSampleError(f"{path}: not a readable CSV file ({err})") from err


# ------------------------------------------------------------------------------------ header
@dataclass(frozen=True)
class _Header:
    scorer: str
    individuals: list[str]
    bodyparts: list[str]
    multi_animal: bool
    n_index: int  # leading index columns (1 or 3)
    width: int  # cells per row
    slots: list[tuple[int, int, int]]  # (individual, bodypart, 0=x / 1=y) of each data column
    lines: int  # header rows


def _header_rows(path: Path, rows: list[tuple[int, list[str]]]) -> tuple[bool, list[tuple[int, list[str]]]]:
    """The header rows (first cell a level name) and whether the layout is multi-animal."""
    head = []
    for line, cells in rows:
        if cells[0].lower() not in _LEVELS:
            break
        head.append((line, cells))
    levels = tuple(cells[0].lower() for _, cells in head)
    if levels not in _LAYOUTS:
        line = head[0][0] if head else (rows[0][0] if rows else 1)
        first = rows[0][1] if rows else []
        sep = next((c for c in (";", "\t", "|") if len(first) == 1 and c in first[0]), None)
        if sep is not None:
            raise BadSampleError(
                f"{path}:{rows[0][0]}: the cells are separated by {sep!r}, not ','; DeepLabCut and lightning-pose "
                "label files are comma-separated: save it as a CSV with ',' separators (and '.' decimals)"
            )
        raise BadSampleError(f"{path}:{line}: unknown header layout {list(levels)}; expected {_EXPECTED}")
    return _LAYOUTS[levels], head


def _index_width(path: Path, head: list[tuple[int, list[str]]]) -> int:
    """Index columns: the cells before the first coordinate name of the ``coords`` row."""
    line, coords = head[-1]
    n_index = next((j for j in range(1, len(coords)) if coords[j]), len(coords))
    if n_index == len(coords):
        raise BadSampleError(f"{path}:{line}: the header has no keypoint columns")
    for line, cells in head:
        if len(cells) != len(coords):
            raise BadSampleError(f"{path}:{line}: {len(cells)} header cells, the coords row has {len(coords)}")
        if any(cells[1:n_index]) or not all(cells[n_index:]):
            raise BadSampleError(f"{path}:{line}: header row {cells[0]!r} has empty or misplaced cells")
    return n_index


def _parse_header(path: Path, rows: list[tuple[int, list[str]]]) -> _Header:
    """Names and the column -> (individual, bodypart, coordinate) map of a label CSV's header."""
    multi, head = _header_rows(path, rows)
    n_index = _index_width(path, head)
    cols = {cells[0].lower(): cells[n_index:] for _, cells in head}
    line = head[-1][0]
    inds_col = cols["individuals"] if multi else [SINGLE] * len(cols["coords"])
    if "likelihood" in (c.lower() for c in cols["coords"]):
        raise BadSampleError(f"{path}:{line}: 'likelihood' columns: this is a file of predictions, not labels")
    individuals = list(dict.fromkeys(inds_col))
    bodyparts = list(dict.fromkeys(cols["bodyparts"]))
    if multi and SINGLE in individuals:
        raise BadSampleError(
            f"{path}:{line}: uniquebodyparts (individual {SINGLE!r}) are not supported; every individual needs "
            "the same bodyparts"
        )
    slots, seen = [], set()
    for ind, bp, coord in zip(inds_col, cols["bodyparts"], cols["coords"]):
        c = {"x": 0, "y": 1}.get(coord.lower())
        if c is None or (ind, bp, c) in seen:
            what = f"coordinate {coord!r}" if c is None else f"a second {coord!r}"
            raise BadSampleError(f"{path}:{line}: {what} for {bp} of {ind}; expected x, y pairs")
        seen.add((ind, bp, c))
        slots.append((individuals.index(ind), bodyparts.index(bp), c))
    missing = [
        f"{bp} of {ind}" if multi else bp
        for ind in individuals
        for bp in bodyparts
        if {(ind, bp, 0), (ind, bp, 1)} - seen
    ]
    if missing:
        detail = "every individual must have the same bodyparts" if multi else "every bodypart needs x and y"
        raise BadSampleError(f"{path}:{line}: no x/y columns for {', '.join(missing[:5])}; {detail}")
    scorer = cols["scorer"][0]
    return _Header(scorer, individuals, bodyparts, multi, n_index, len(head[-1][1]), slots, len(head))


# -------------------------------------------------------------------------------------- rows
def _parse_values(cells: list[str], header: _Header, where: str) -> np.ndarray | str:
    """``(I, K, 2)`` keypoints of one row's data cells, or the problem with them."""
    kps = np.full((len(header.individuals), len(header.bodyparts), 2), np.nan)
    for cell, (i, k, c) in zip(cells, header.slots):
        value = _number(cell)
        if value is None:
            return f"{where}: {_name(header, i, k)} {'xy'[c]} = {cell!r} is not a number"
        kps[i, k, c] = value
    one = np.isnan(kps[..., 0]) != np.isnan(kps[..., 1])
    neg = (kps < -0.5).any(-1)  # pixel centres at integers: the image spans [-0.5, W - 0.5]
    for bad, what in ((one, "has only one of x and y"), (neg, "lies left of or above the image (< -0.5)")):
        if bad.any():
            i, k = np.argwhere(bad)[0]
            return f"{where}: {_name(header, i, k)} {what} {kps[i, k].tolist()}"
    return kps


def _number(cell: str) -> float | None:
    """A coordinate cell: NaN for an empty or ``NaN`` cell, None when not a finite number."""
    if cell == "" or cell.lower() == "nan":
        return float("nan")
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _name(header: _Header, i: int, k: int) -> str:
    return f"{header.bodyparts[k]} of {header.individuals[i]}" if header.multi_animal else header.bodyparts[k]


def read_label_csv(path: str | Path, root: str | Path, bad: BadSamples | None = None) -> DLCLabels:
    """Read and check one label CSV (layout detected from its header; see the module docstring).

    Args:
        path: the CSV.
        root: the project root the CSV's image paths are relative to.
        bad: the bad-row policy (default: raise at the first problem).

    Raises:
        BadSampleError: a header problem (always), or a row problem under ``on_bad_sample="raise"``.
    """
    path, root = Path(path), Path(root)
    bad = bad if bad is not None else BadSamples("raise", str(path))
    rows = _csv_rows(path)
    header = _parse_header(path, rows)
    frames: list[DLCFrame] = []
    first_line: dict[str, int] = {}
    data = rows[header.lines :]
    for row, (line, cells) in enumerate(data):
        where = f"{path}:{line}"
        if len(cells) != header.width:
            bad.report(f"{where}: {len(cells)} columns, the header has {header.width}")
            continue
        parts = cells[: header.n_index]
        rel = "/".join(parts).replace("\\", "/")
        if not all(parts):
            bad.report(f"{where}: empty image path cell in {parts}")
            continue
        if rel in first_line:
            bad.report(f"{where}: image {rel} is already labelled on line {first_line[rel]}")
            continue
        first_line[rel] = line
        kps = _parse_values(cells[header.n_index :], header, where)
        if isinstance(kps, str):
            bad.report(kps)
            continue
        frames.append(DLCFrame(root / rel, kps, line, row))
    return DLCLabels(path, header.scorer, header.individuals, header.bodyparts, header.multi_animal, frames, len(data))


def read_labels(root: str | Path, csv: str | Path | None, bad: BadSamples) -> list[DLCLabels]:
    """Every label file of a project (:func:`find_label_files`, read by :func:`read_label_files`)."""
    return read_label_files(find_label_files(root, csv), root, bad)


def read_label_files(files: Sequence[Path], root: str | Path, bad: BadSamples) -> list[DLCLabels]:
    """The label CSVs ``files``, checked to share the bodyparts; an image labelled in two files is
    reported (and dropped from the later one under skip).

    Raises:
        BadSampleError: files with different bodyparts, or as :func:`read_label_csv`.
    """
    labels = [read_label_csv(f, Path(root).expanduser(), bad) for f in files]
    first = labels[0]
    seen: dict[Path, str] = {}
    for lab in labels:
        if lab.bodyparts != first.bodyparts:
            raise BadSampleError(f"{lab.path}: bodyparts {lab.bodyparts} differ from {first.bodyparts} of {first.path}")
        kept = []
        for frame in lab.frames:
            if frame.image in seen:
                bad.report(f"{lab.path}:{frame.line}: image {frame.image} is already labelled at {seen[frame.image]}")
                continue
            seen[frame.image] = f"{lab.path}:{frame.line}"
            kept.append(frame)
        lab.frames = kept
    return labels


def read_project_skeleton(root: str | Path, names: Sequence[str]) -> list[tuple[int, int]]:
    """0-based bodypart index pairs of the ``skeleton:`` in the project's ``config.yaml``; ``[]``
    without a config.yaml (lightning-pose) or without a skeleton.

    Edges naming bodyparts that are not labelled (DeepLabCut's default
    ``[[bodypart1, bodypart2], [objectA, bodypart3]]`` after renaming) are left out with one warning;
    a config.yaml that is not UTF-8 is read as cp1252.

    Raises:
        BadSampleError: invalid YAML, or an edge that is not two names.
    """
    path = Path(root) / "config.yaml"
    if not path.is_file():
        return []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Windows editors; names are compared as read
        log.warning("%s is not UTF-8; read it as cp1252 (Windows)", path)
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BadSampleError(f"{path}: not a readable YAML file ({err})") from err
    edges = config.get("skeleton") if isinstance(config, dict) else None
    index = {n: i for i, n in enumerate(names)}
    out, dropped = [], []
    for n, edge in enumerate(edges or [], start=1):
        if not isinstance(edge, (list, tuple)) or len(edge) != 2:
            raise BadSampleError(f"{path}: skeleton edge {n} {edge!r} must be two bodypart names")
        if any(not isinstance(e, str) or e not in index for e in edge):
            dropped.append(list(edge))
            continue
        out.append((index[edge[0]], index[edge[1]]))
    if dropped:
        log.warning("%s: skeleton edge(s) %s name bodyparts not in the labels %s (DeepLabCut's default "
                    "skeleton?): left out of the overlays", path, dropped, list(names))  # fmt: skip
    return out
