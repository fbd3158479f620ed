"""`DLCProject`: a DeepLabCut or lightning-pose labelled project as a top-down dataset.

``lit-heatmap-train dataset=dlc dataset.root=<project folder> [dataset.csv=CollectedData.csv]``

The labels are read by :mod:`lit_heatmap.data.dlc` (every ``labeled-data/*/CollectedData_*.csv``, or
one CSV; single- and multi-animal headers, one or three index columns). One instance per frame and
labelled individual: single-animal frames are their own box, multi-animal instances the padded
extent of their labelled keypoints. Names come from the header, the skeleton from the project's
``config.yaml``, flip pairs from ``flip_pairs`` or the names (flip off when names look sided but
cannot be paired). Train and val are split by frame: a frame is val when the hash of its path
(relative to the project) and ``split_seed`` is below ``val_fraction`` (:mod:`.splits`), so adding
frames never moves the others; or val is a label file of its own (``val_csv``, left out of the
training files); or the lists of a run's ``split.json`` (``split_file``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .base import KeypointDataset, Record
from .dlc import DLCFrame, DLCLabels, find_label_files, read_label_files, read_project_skeleton
from .io import ImageReadError, image_size
from .meta import DatasetMeta, keypoint_sigmas, resolve_flip_index
from .pipeline import KeypointTransform, with_default_sizes
from .splits import read_split_file, relative_path, split_keys
from .validation import BadSamples, OnBadSample

__all__ = ["DLCProject", "dlc_records", "records_in_split_file", "split_records"]

log = logging.getLogger("lit_heatmap.data")


class DLCProject(KeypointDataset):
    """Frames and labels of a DeepLabCut / lightning-pose project.

    Args:
        root: the project folder (``config.yaml``, ``labeled-data/``); image paths in the CSVs are
            relative to it.
        csv: one label file (absolute or relative to ``root``, e.g. lightning-pose's
            ``CollectedData.csv``); None: every ``labeled-data/*/CollectedData_*.csv``.
        split: ``"train"``, ``"val"`` or ``"all"`` (every labelled frame).
        val_fraction: fraction of the frames held out for val (when ``val_csv`` is None): a frame is
            val when ``frame_hash(its path relative to root, split_seed) < val_fraction``.
        val_csv: a label file of its own for the val split, left out of the training files (a frame
            labelled in both is an error naming it).
        split_seed: seed of the frame split.
        flip_pairs: ``[[a, b], ...]`` by index or bodypart name; ``[]``: no bodypart has a side;
            None: derived from the names.
        sigmas: K OKS sigmas, or one number for every bodypart (default 0.05 each).
        input_size: network input ``(w, h)`` when ``transform`` is None (None: as below).
        transform: the crop + augmentation pipeline (``dataset.transform``). Left None, its
            ``input_size`` follows the frames (single animal: aspect ratio at 256 px on the short
            side, multiples of 32: 640x480 -> (320, 256); multi-animal: (192, 256)) and its
            ``padding`` is 1.0 for whole frames, 1.25 for multi-animal boxes.
        box_padding: multi-animal boxes: the keypoints' extent is padded by this fraction of its
            longer side (plus 4 px) before the crop's ``padding``.
        name: dataset name in the meta (default: the project folder's name).
        on_bad_sample: ``"raise"`` or ``"skip"`` (a bad row drops its frame, counted and logged).
        split_file: a run's ``split.json``: this split is the frames it lists (relative to ``root``),
            whatever ``val_fraction`` / ``val_csv`` say.
    """

    def __init__(
        self,
        root: str | Path,
        csv: str | Path | None = None,
        split: Literal["train", "val", "all"] = "train",
        val_fraction: float = 0.1,
        val_csv: str | Path | None = None,
        split_seed: int = 0,
        flip_pairs: Sequence[Sequence[int | str]] | None = None,
        sigmas: float | Sequence[float] | None = None,
        input_size: Sequence[int] | None = None,
        transform: KeypointTransform | None = None,
        box_padding: float = 0.1,
        name: str | None = None,
        on_bad_sample: OnBadSample = "raise",
        split_file: str | Path | None = None,
    ) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"DLCProject: split must be 'train', 'val' or 'all', got {split!r}")
        root = Path(root).expanduser()
        bad = BadSamples(on_bad_sample, str(root))
        files = find_label_files(root, csv)
        val_file = find_label_files(root, val_csv)[0] if val_csv not in (None, "") else None
        if val_file is not None:
            files = [f for f in files if f.resolve() != val_file.resolve()]
            if not files and split != "val":
                raise ValueError(
                    f"dataset.val_csv={val_csv} is the only label file of dataset.csv={csv}: no frame is left to "
                    "train on; give val_csv a label file of its own (or use dataset.val_fraction)"
                )
        labels = read_label_files(files or [val_file], root, bad)
        records = dlc_records(labels, bad, pad_fraction=box_padding)
        names = labels[0].bodyparts
        multi = any(lab.multi_animal for lab in labels)
        if split_file not in (None, ""):
            chosen = records_in_split_file(records, root, split_file, split)
        elif val_file is not None:
            val_labels = read_label_files([val_file], root, bad)
            if val_labels[0].bodyparts != names:
                raise ValueError(
                    f"{val_file}: bodyparts {val_labels[0].bodyparts} differ from {names} of {labels[0].path}"
                )
            val_records = dlc_records(val_labels, bad, pad_fraction=box_padding) if files else records
            if files:
                _check_disjoint(records, val_records, root, val_file)
            chosen = val_records if split == "val" else records
        elif split == "all" or not val_fraction:
            if split == "val":
                raise ValueError(
                    "DLCProject: no validation frames; set dataset.val_fraction=0.1 or dataset.val_csv=<file>"
                )
            chosen = records
        else:
            train, val = split_records(records, float(val_fraction), split_seed, root)
            chosen = val if split == "val" else train
        bad.summary()
        # the input size follows every labelled frame (train and val alike), not this split's
        frames = None if multi else [(int(r.bbox[2]), int(r.bbox[3])) for r in records]
        transform = with_default_sizes(transform, frames, input_size)
        flip = resolve_flip_index(names, flip_pairs)
        meta = DatasetMeta(
            name=name or root.name,
            num_keypoints=len(names),
            keypoint_names=list(names),
            skeleton=read_project_skeleton(root, names),
            flip_index=flip.index,
            sigmas=keypoint_sigmas(sigmas, len(names), "bodyparts"),
            input_size=transform.input_size,
            padding=transform.padding,
            flip_note=flip.summary,
        )
        self.root, self.split, self.labels = root, split, labels
        super().__init__(list(chosen), meta, transform, on_bad_sample, bad)
        self.files_root = root


def _check_disjoint(train: Sequence[Record], val: Sequence[Record], root: Path, val_file: Path) -> None:
    """Raise when a frame of the val label file is also labelled in a training file."""
    both = sorted({relative_path(r.image_path, root) for r in train} & {relative_path(r.image_path, root) for r in val})
    if both:
        more = f", ... (+{len(both) - 5} more)" if len(both) > 5 else ""
        raise ValueError(
            f"dataset.val_csv={val_file}: {len(both)} frame(s) are also in the training label files: "
            f"{', '.join(both[:5])}{more}; label each frame in one file only"
        )


def records_in_split_file(records: Sequence[Record], root: Path, split_file: str | Path, split: str) -> list[Record]:
    """The records whose frame is listed under ``split`` in a run's ``split.json`` (paths relative to
    ``root``); frames listed there but no longer labelled are counted in a warning.

    Raises:
        ValueError: ``split="all"``, or no listed frame is labelled in the project.
    """
    if split == "all":
        raise ValueError("DLCProject: split_file selects the train or val frames of a run; use split=train or val")
    listed = set(read_split_file(split_file)[split])
    chosen = [r for r in records if relative_path(r.image_path, root) in listed]
    found = {relative_path(r.image_path, root) for r in chosen}
    if len(found) < len(listed):
        log.warning("%s: %d of its %d %s frames are not labelled in %s", split_file, len(listed) - len(found),
                    len(listed), split, root)  # fmt: skip
    if not chosen:
        raise ValueError(f"{split_file}: none of its {len(listed)} {split} frames is labelled in the project {root}")
    log.info("%s split: the %d frames listed in %s", split, len(found), split_file)
    return chosen


# ----------------------------------------------------------------------------------- records
SCALE_FLOOR = 0.05  # the animal's scale is at least this fraction of the frame's longer side


def animal_scale(kps: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """``(norm, area)`` of an animal for the metrics, from the extent of its labelled keypoints ``(N, 2)``
    with a floor ``f = SCALE_FLOOR * max(width, height)`` (32 px on 640x480): norm = max(longer side, f)
    (PCK), area = max(w * h, f * f) (OKS)."""
    floor = SCALE_FLOOR * max(width, height)
    ext = kps.max(0) - kps.min(0)
    return max(float(ext.max()), floor), max(float(ext[0] * ext[1]), floor * floor)


def _extent_box(kps: np.ndarray, width: int, height: int, pad_fraction: float, pad_px: float) -> np.ndarray:
    """``(4,)`` x, y, w, h: the extent of ``kps (N, 2)`` (a square of ``SCALE_FLOOR`` of the frame's
    longer side around its centre when its longer side is shorter, e.g. one keypoint) padded by
    ``pad_fraction`` of its longer side plus ``pad_px`` (at least 1 px) on every side, clipped to the image."""
    lo, hi = kps.min(0), kps.max(0)
    floor = SCALE_FLOOR * max(width, height)
    if float((hi - lo).max()) < floor:
        lo, hi = (lo + hi) / 2 - floor / 2, (lo + hi) / 2 + floor / 2
    pad = max(pad_fraction * float((hi - lo).max()) + pad_px, 1.0)
    x0, y0 = np.maximum(lo - pad, 0.0)
    x1, y1 = np.minimum(hi + pad, [width, height])
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)


def _frame_size(labels: DLCLabels, frame: DLCFrame, bad: BadSamples) -> tuple[int, int] | None:
    """``(w, h)`` of the frame's image with every labelled keypoint inside it, or None (reported)."""
    where = f"{labels.path}:{frame.line}"
    if not frame.image.is_file():
        bad.report(f"{where}: image file {frame.image} not found")
        return None
    try:
        w, h = image_size(frame.image)
    except ImageReadError as err:
        bad.report(f"{where}: {err}")
        return None
    outside = (frame.keypoints > [w - 0.5, h - 0.5]).any(-1)  # pixel centres at integers: [-0.5, W - 0.5]
    if outside.any():
        i, k = np.argwhere(outside)[0]
        who = f" of {labels.individuals[i]}" if labels.multi_animal else ""
        bad.report(
            f"{where}: {labels.bodyparts[k]}{who} at {frame.keypoints[i, k].tolist()} lies outside the "
            f"{w}x{h} image {frame.image}"
        )
        return None
    return w, h


def _frame_records(
    labels: DLCLabels, frame: DLCFrame, image_id: int, size: tuple[int, int], pad_fraction: float, pad_px: float
) -> list[Record]:
    """The records of the individuals of ``frame`` that have a labelled keypoint."""
    seen = ~np.isnan(frame.keypoints[..., 0])  # (I, K)
    out = []
    for i in np.flatnonzero(seen.any(1)):
        kps = np.nan_to_num(frame.keypoints[i], nan=0.0)
        if labels.multi_animal:
            box = _extent_box(kps[seen[i]], *size, pad_fraction, pad_px)
            where = f"{labels.path}:{frame.line}, individual {labels.individuals[i]}"
        else:
            box, where = np.array([0.0, 0.0, *size]), f"{labels.path}:{frame.line}"
        norm, area = animal_scale(kps[seen[i]], *size)
        out.append(
            Record(
                image_path=frame.image,
                bbox=box,
                keypoints=kps,
                visibility=seen[i].astype(np.float64),
                image_id=image_id,
                area=area,
                norm=norm,
                where=where,
            )
        )
    return out


def dlc_records(
    labels: Sequence[DLCLabels], bad: BadSamples, pad_fraction: float = 0.1, pad_px: float = 4.0
) -> list[Record]:
    """One :class:`Record` per (frame, individual with at least one labelled keypoint).

    Metric scale (``norm`` for PCK, ``area`` for OKS): the animal's labelled extent, each side at least
    ``SCALE_FLOOR`` of the frame's longer side (:func:`animal_scale`), never the whole frame.
    Boxes: single-animal files: the whole image ``[0, 0, W, H]``; multi-animal files: the labelled
    keypoints' extent (at least that floor), padded on every side by ``pad_fraction`` of its longer side plus ``pad_px``
    pixels (at least 1 px), clipped to the image. Image ids: the running number of the data row over all ``labels``
    in order (the sorted files), bad and unlabelled rows counted, so that ids do not depend on
    ``on_bad_sample``. Unlabelled keypoints get visibility 0 and coordinates 0. The image size is
    read from the file header; a missing or unreadable image or a keypoint outside it goes to ``bad``.

    Raises:
        ValueError: no frame with a labelled keypoint at all.
    """
    records: list[Record] = []
    first_id, unlabelled = 0, 0
    for lab in labels:
        for frame in lab.frames:
            if np.isnan(frame.keypoints).all():
                unlabelled += 1
            elif (size := _frame_size(lab, frame, bad)) is not None:
                records += _frame_records(lab, frame, first_id + frame.row, size, pad_fraction, pad_px)
        first_id += lab.num_rows
    if unlabelled:
        log.info("DeepLabCut labels: left out %d frame(s) without any labelled keypoint", unlabelled)
    if not records:
        files = ", ".join(str(lab.path) for lab in labels)
        raise ValueError(f"{files}: no frame with a labelled keypoint ({unlabelled} unlabelled, {bad.count} bad)")
    return records


def split_records(
    records: Sequence[Record], val_fraction: float, seed: int = 0, root: str | Path | None = None
) -> tuple[list[Record], list[Record]]:
    """Train and val records, split by frame (all individuals of an image go to the same side): a frame
    is val when the hash of ``(its path relative to root, seed)`` is below ``val_fraction``
    (:func:`~lit_heatmap.data.splits.split_keys`), so adding frames never moves the others."""
    keys = {id(r): relative_path(r.image_path, root) for r in records}
    _, val_keys = split_keys(keys.values(), val_fraction, seed)
    val = [r for r in records if keys[id(r)] in val_keys]
    return [r for r in records if keys[id(r)] not in val_keys], val
