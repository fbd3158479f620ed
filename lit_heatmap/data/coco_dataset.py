"""Datasets over COCO keypoint files: :class:`CocoFileDataset` (the ground truth of a split of the file)
and :class:`CocoKeypoints` (top-down COCO person keypoints with GT or detected boxes, HRNet/MMPose
style). The file is read by :mod:`.coco`; :class:`~lit_heatmap.data.CocoFormat` is any other COCO file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .base import KeypointDataset
from .coco import coco_ground_truth, coco_meta, coco_records, detection_records, load_json
from .pipeline import KeypointTransform, with_default_sizes
from .validation import BadSamples, OnBadSample, check_root

__all__ = ["CocoFileDataset", "CocoKeypoints"]


class CocoFileDataset(KeypointDataset):
    """A dataset read from a COCO keypoint file (``ann_file``, ``category_id``), with its :meth:`ground_truth`."""

    ann_file: Path
    category_id: int
    image_ids: set[int] | None = None  # the images of this split (None: every image of the file)
    _ground_truth: dict[str, Any] | None = None

    def ground_truth(self) -> dict[str, Any]:
        """Every image of this split of ``ann_file`` with all its annotations of the category (see
        :func:`coco_ground_truth`); read from the file once, then cached."""
        if self._ground_truth is None:
            self._ground_truth = coco_ground_truth(
                load_json(self.ann_file), self.ann_file, self.category_id, self.image_ids, self.bad.skipped
            )
        return self._ground_truth


class CocoKeypoints(CocoFileDataset):
    """Top-down COCO person keypoints.

    Args:
        root: COCO root holding ``annotations/`` and the image folders.
        split: ``"train2017"``, ``"val2017"``...; picks the default ann file and image folder.
        ann_file: overrides ``root/annotations/person_keypoints_{split}.json``.
        img_dir: overrides ``root/{split}``.
        det_file: detection results file; when given (and ``use_gt_bbox`` is False) the instances
            are its boxes with ``score >= det_score_threshold`` (keypoints unknown: visibility 0).
        det_score_threshold: minimum detector score.
        use_gt_bbox: GT boxes (default: True unless det_file is given).
        input_size: network input ``(w, h)`` (HRNet: 192 x 256).
        transform: the crop + augmentation pipeline (``dataset.transform``, the HRNet/MMPose recipe in
            ``conf/dataset/coco.yaml``); None: a deterministic crop of ``input_size``.
        flip_pairs, sigmas: override what the category gives.
        on_bad_sample: ``"raise"`` or ``"skip"``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "val2017",
        ann_file: str | Path | None = None,
        img_dir: str | Path | None = None,
        det_file: str | Path | None = None,
        det_score_threshold: float = 0.0,
        use_gt_bbox: bool | None = None,
        input_size: Sequence[int] = (192, 256),
        transform: KeypointTransform | None = None,
        flip_pairs: Sequence[Sequence[int]] | None = None,
        sigmas: Sequence[float] | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        root_path = check_root(root, "CocoKeypoints", "coco (the folder with annotations/ and val2017/)")
        ann = Path(ann_file) if ann_file else root_path / "annotations" / f"person_keypoints_{split}.json"
        images = Path(img_dir) if img_dir else root_path / split
        transform = with_default_sizes(transform, None, input_size)
        data = load_json(ann)
        meta, self.category_id = coco_meta(
            data, ann, transform.input_size, None, flip_pairs, sigmas, "coco", transform.padding
        )
        bad = BadSamples(on_bad_sample, str(ann))
        use_gt = (det_file is None) if use_gt_bbox is None else bool(use_gt_bbox)
        if use_gt:
            records = coco_records(data, ann, images, meta, self.category_id, bad)
        else:
            if det_file is None:
                raise ValueError("CocoKeypoints: use_gt_bbox=False needs det_file=")
            records = detection_records(
                Path(det_file), data, ann, images, meta, det_score_threshold, bad, self.category_id
            )
        bad.summary()
        self.ann_file, self.img_dir = ann, images
        super().__init__(records, meta, transform, on_bad_sample, bad)
