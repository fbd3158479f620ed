"""WFLW list files (98-landmark faces, the original release format) -> checked :class:`Record` lists.

``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{split}.txt``: one face per
line, 196 numbers (x0 y0 ... x97 y97), the face rectangle ``x_min y_min x_max y_max``, 6 attribute
flags (``lit_heatmap.facts.WFLW_ATTRIBUTES``) and the image path relative to
``WFLW_images/``. The box is the landmarks' extent (cropped with 1.25x padding, HRNet-facial); ``norm``
is the inter-ocular distance between landmarks 60 and 72; ``attributes (6,)`` feed the subset metrics.
The dataset is :class:`~lit_heatmap.data.WFLW` (:mod:`.wflw_dataset`).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import torch

from .base import Record
from .validation import BadSamples, check_bbox, check_keypoints

__all__ = ["parse_wflw_line", "wflw_records", "WFLW_NUM_FIELDS", "WFLW_SIGMA"]


WFLW_NUM_FIELDS = 98 * 2 + 4 + 6 + 1
# OKS-style sigmas are not defined for WFLW; a uniform value keeps OKS-based tools usable.
WFLW_SIGMA = 0.025


def parse_wflw_line(line: str, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Split one annotation line.

    Returns:
        ``landmarks (98, 2)``, ``rect (4,)`` x_min y_min x_max y_max, ``attributes (6,)`` int,
        the relative image path.

    Raises:
        ValueError: wrong field count or a non-numeric field, naming ``where`` (file:line).
    """
    fields = line.split()
    if len(fields) != WFLW_NUM_FIELDS:
        raise ValueError(
            f"{where}: {len(fields)} fields, expected {WFLW_NUM_FIELDS} "
            "(196 landmark coordinates, 4 rectangle values, 6 attribute flags, image path)"
        )
    try:
        nums = np.array([float(v) for v in fields[:200]], dtype=np.float64)
        attrs = np.array([int(v) for v in fields[200:206]], dtype=np.int64)
    except ValueError as err:
        raise ValueError(f"{where}: non-numeric field ({err})") from err
    if not np.isin(attrs, (0, 1)).all():
        raise ValueError(f"{where}: attribute flags must be 0 or 1, got {attrs.tolist()}")
    return nums[:196].reshape(98, 2), nums[196:200], attrs, fields[206]


def wflw_records(ann: Path, images: Path, bad: BadSamples) -> list[Record]:
    """One checked :class:`Record` per face line of the list file ``ann`` (images under ``images``);
    bad lines go to ``bad`` naming ``file:line``."""
    records: list[Record] = []
    with open(ann, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{ann}:{lineno}"
        try:
            lms, rect, attrs, rel = parse_wflw_line(line, where)
        except ValueError as err:
            bad.report(str(err))
            continue
        rect_xywh = [rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1]]
        vis = np.ones(98)
        msg = check_keypoints(lms, vis, where) or check_bbox(rect_xywh, f"{where}: face rectangle")
        if msg is not None:
            bad.report(msg)
            continue
        rel_path = PurePosixPath(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            bad.report(f"{where}: unknown image path {rel!r} (must be relative to {images})")
            continue
        path = images / rel_path
        if not path.is_file():
            bad.report(f"{where}: image file {path} not found")
            continue
        lo, hi = lms.min(0), lms.max(0)
        bbox = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
        if (msg := check_bbox(bbox, f"{where}: landmark box")) is not None:
            bad.report(msg)
            continue
        records.append(
            Record(
                image_path=path,
                bbox=bbox,
                keypoints=lms,
                visibility=vis,
                image_id=lineno,
                area=float(bbox[2] * bbox[3]),
                norm=float(np.linalg.norm(lms[60] - lms[72])),
                where=where,
                extra={"attributes": torch.from_numpy(attrs.astype(bool))},
            )
        )
    return records
