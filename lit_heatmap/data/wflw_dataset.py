"""`WFLW`: 98-landmark faces (the list files are read by :mod:`.wflw`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lit_heatmap.facts import WFLW_FLIP_INDEX, WFLW_KEYPOINT_NAMES, WFLW_SKELETON

from .base import KeypointDataset
from .meta import DatasetMeta
from .pipeline import KeypointTransform, with_default_sizes
from .validation import BadSamples, OnBadSample, check_root
from .wflw import WFLW_SIGMA, wflw_records

__all__ = ["WFLW"]


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
        transform = with_default_sizes(transform, None, input_size)
        meta = DatasetMeta(
            name="wflw",
            num_keypoints=98,
            keypoint_names=list(WFLW_KEYPOINT_NAMES),
            skeleton=list(WFLW_SKELETON),
            flip_index=list(WFLW_FLIP_INDEX),
            sigmas=[WFLW_SIGMA] * 98,
            input_size=transform.input_size,
            padding=transform.padding,
        )
        bad = BadSamples(on_bad_sample, str(ann))
        records = wflw_records(ann, images, bad)
        bad.summary()
        if not records:
            raise ValueError(f"{ann}: no usable faces ({bad.count} bad line(s))")
        self.ann_file, self.img_dir = ann, images
        super().__init__(records, meta, transform, on_bad_sample, bad)
