"""`DLCProject`: a DeepLabCut or lightning-pose labelled project as a top-down dataset.

``lit-heatmap-train dataset=dlc dataset.root=<project folder> [dataset.csv=CollectedData.csv]``

The labels are read by :mod:`lit_heatmap.data.dlc` (every ``labeled-data/*/CollectedData_*.csv``, or
one CSV; single- and multi-animal headers, one or three index columns). One instance per frame and
labelled individual: single-animal frames are their own box, multi-animal instances the padded
extent of their labelled keypoints. Names come from the header, the skeleton from the project's
``config.yaml``, flip pairs from ``flip_pairs`` or the names (flip off when names look sided but
cannot be paired). Train and val are split by frame (``val_fraction``, seeded), or val is a CSV of
its own (``val_csv``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from .base import KeypointDataset, Record
from .coco_format import split_image_ids
from .dlc import DLCFrame, DLCLabels, read_labels, read_project_skeleton
from .io import ImageReadError, image_size
from .meta import DatasetMeta, resolve_flip_index
from .pipeline import KeypointTransform, fit_transform
from .validation import BadSamples, OnBadSample

__all__ = ["DLCProject", "dlc_records", "split_records"]

log = logging.getLogger("lit_heatmap.data")


class DLCProject(KeypointDataset):
    """Frames and labels of a DeepLabCut / lightning-pose project.

    Args:
        root: the project folder (``config.yaml``, ``labeled-data/``); image paths in the CSVs are
            relative to it.
        csv: one label file (absolute or relative to ``root``, e.g. lightning-pose's
            ``CollectedData.csv``); None: every ``labeled-data/*/CollectedData_*.csv``.
        split: ``"train"``, ``"val"`` or ``"all"`` (every labelled frame).
        val_fraction: fraction of the frames held out for val (when ``val_csv`` is None).
        val_csv: a label file of its own for the val split (then train uses every frame of ``csv``).
        split_seed: seed of the frame split.
        flip_pairs: ``[[a, b], ...]`` by index or bodypart name; ``[]``: no bodypart has a side;
            None: derived from the names.
        sigmas: K OKS sigmas (default 0.05 each).
        input_size: network input ``(w, h)`` when ``transform`` is None (None: as below).
        transform: the crop + augmentation pipeline (``dataset.transform``). Left None, its
            ``input_size`` follows the frames (single animal: aspect ratio at 256 px on the short
            side, multiples of 32: 640x480 -> (320, 256); multi-animal: (192, 256)) and its
            ``padding`` is 1.0 for whole frames, 1.25 for multi-animal boxes.
        box_padding: multi-animal boxes: the keypoints' extent is padded by this fraction of its
            longer side (plus 4 px) before the crop's ``padding``.
        name: dataset name in the meta (default: the project folder's name).
        on_bad_sample: ``"raise"`` or ``"skip"`` (a bad row drops its frame, counted and logged).
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
        sigmas: Sequence[float] | None = None,
        input_size: Sequence[int] | None = None,
        transform: KeypointTransform | None = None,
        box_padding: float = 0.1,
        name: str | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"DLCProject: split must be 'train', 'val' or 'all', got {split!r}")
        root = Path(root).expanduser()
        bad = BadSamples(on_bad_sample, str(root))
        labels = read_labels(root, csv, bad)
        records = dlc_records(labels, bad, pad_fraction=box_padding)
        names = labels[0].bodyparts
        multi = any(lab.multi_animal for lab in labels)
        if val_csv not in (None, ""):
            val_labels = read_labels(root, val_csv, bad)
            if val_labels[0].bodyparts != names:
                raise ValueError(
                    f"{val_labels[0].path}: bodyparts {val_labels[0].bodyparts} differ from {names} of {labels[0].path}"
                )
            chosen = dlc_records(val_labels, bad, pad_fraction=box_padding) if split == "val" else records
        elif split == "all" or not val_fraction:
            if split == "val":
                raise ValueError(
                    "DLCProject: no validation frames; set dataset.val_fraction=0.1 or dataset.val_csv=<file>"
                )
            chosen = records
        else:
            train, val = split_records(records, float(val_fraction), split_seed)
            chosen = val if split == "val" else train
        bad.summary()
        # the input size follows every labelled frame (train and val alike), not this split's
        frames = None if multi else [(int(r.bbox[2]), int(r.bbox[3])) for r in records]
        transform = fit_transform(transform, frames, input_size)
        flip = resolve_flip_index(names, flip_pairs)
        sig = [float(s) for s in sigmas] if sigmas is not None else [0.05] * len(names)
        if len(sig) != len(names):
            raise ValueError(f"dataset.sigmas has {len(sig)} entries but the project has {len(names)} bodyparts")
        meta = DatasetMeta(
            name=name or root.name,
            num_keypoints=len(names),
            keypoint_names=list(names),
            skeleton=read_project_skeleton(root, names),
            flip_index=flip.index,
            sigmas=sig,
            input_size=transform.input_size,
            padding=transform.padding,
            flip_note=flip.summary,
        )
        self.root, self.split, self.labels = root, split, labels
        super().__init__(list(chosen), meta, transform, on_bad_sample, bad)


# ----------------------------------------------------------------------------------- records
def _extent_box(kps: np.ndarray, width: int, height: int, pad_fraction: float, pad_px: float) -> np.ndarray:
    """``(4,)`` x, y, w, h: the extent of ``kps (N, 2)`` padded by ``pad_fraction`` of its longer side
    plus ``pad_px`` (at least 1 px) on every side, clipped to the image."""
    lo, hi = kps.min(0), kps.max(0)
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
    outside = (frame.keypoints > [w, h]).any(-1)
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
        out.append(
            Record(
                image_path=frame.image,
                bbox=box,
                keypoints=kps,
                visibility=seen[i].astype(np.float64),
                image_id=image_id,
                area=float(box[2] * box[3]),
                norm=float(max(box[2], box[3])),
                where=where,
            )
        )
    return out


def dlc_records(
    labels: Sequence[DLCLabels], bad: BadSamples, pad_fraction: float = 0.1, pad_px: float = 4.0
) -> list[Record]:
    """One :class:`Record` per (frame, individual with at least one labelled keypoint).

    Boxes: single-animal files: the whole image ``[0, 0, W, H]``; multi-animal files: the labelled
    keypoints' extent, padded on every side by ``pad_fraction`` of its longer side plus ``pad_px``
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


def split_records(records: Sequence[Record], val_fraction: float, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Train and val records, split by frame (all individuals of an image go to the same side):
    ``round(n_frames * val_fraction)`` frames (at least 1) to val, deterministic by ``seed``."""
    train_ids, val_ids = split_image_ids({r.image_id for r in records}, val_fraction, seed)
    return [r for r in records if r.image_id in train_ids], [r for r in records if r.image_id in val_ids]
