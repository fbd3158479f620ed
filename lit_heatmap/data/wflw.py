"""`WFLW`: 98-landmark faces in the original release format.

``WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{split}.txt``: one face per
line, 196 numbers (x0 y0 ... x97 y97), the face rectangle ``x_min y_min x_max y_max``, 6 attribute
flags (``lit_heatmap.facts.WFLW_ATTRIBUTES``) and the image path relative to
``WFLW_images/``. The crop is the landmarks' box expanded 1.25x (HRNet-facial); ``norm`` is the
inter-ocular distance between landmarks 60 and 72; ``attributes (6,)`` feed the subset metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from lit_heatmap.facts import WFLW_FLIP_INDEX, WFLW_KEYPOINT_NAMES, WFLW_SKELETON

from .base import KeypointDataset, Record
from .meta import DatasetMeta
from .pipeline import KeypointTransform, fit_transform
from .validation import BadSamples, OnBadSample, check_bbox, check_keypoints, check_root

__all__ = ["WFLW", "parse_wflw_line", "WFLW_NUM_FIELDS"]


WFLW_NUM_FIELDS = 98 * 2 + 4 + 6 + 1
# OKS-style sigmas are not defined for WFLW; a uniform value keeps OKS-based tools usable.
_WFLW_SIGMA = 0.025


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


class WFLW(KeypointDataset):
    """WFLW faces (98 landmarks).

    Args:
        root: the WFLW folder holding ``WFLW_annotations/`` and ``WFLW_images/``.
        split: ``"train"`` or ``"test"``.
        ann_file: overrides the list file of the split.
        input_size: network input ``(w, h)`` (256 x 256 in HRNet-facial).
        transform: the crop + augmentation pipeline (``dataset.transform``, HRNet-facial's recipe in
            ``conf/dataset/wflw.yaml``); None: a deterministic crop of ``input_size``.
        on_bad_sample: ``"raise"`` or ``"skip"``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        ann_file: str | Path | None = None,
        input_size: Sequence[int] = (256, 256),
        transform: KeypointTransform | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        root_path = check_root(root, "WFLW", "WFLW (the folder with WFLW_annotations/ and WFLW_images/)")
        ann = (
            Path(ann_file)
            if ann_file
            else root_path / "WFLW_annotations" / "list_98pt_rect_attr_train_test" / f"list_98pt_rect_attr_{split}.txt"
        )
        if not ann.is_file():
            raise FileNotFoundError(f"WFLW: annotation file {ann} not found (split={split!r}; is dataset.root right?)")
        images = root_path / "WFLW_images"
        transform = fit_transform(transform, None, input_size)
        meta = DatasetMeta(
            name="wflw",
            num_keypoints=98,
            keypoint_names=list(WFLW_KEYPOINT_NAMES),
            skeleton=list(WFLW_SKELETON),
            flip_index=list(WFLW_FLIP_INDEX),
            sigmas=[_WFLW_SIGMA] * 98,
            input_size=transform.input_size,
            padding=transform.padding,
        )
        bad = BadSamples(on_bad_sample, str(ann))
        records = self._parse(ann, images, bad)
        bad.summary()
        if not records:
            raise ValueError(f"{ann}: no usable faces ({bad.count} bad line(s))")
        self.ann_file, self.img_dir = ann, images
        super().__init__(records, meta, transform, on_bad_sample, bad)

    @staticmethod
    def _parse(ann: Path, images: Path, bad: BadSamples) -> list[Record]:
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
