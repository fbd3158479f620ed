"""`CocoFormat`: any COCO-format keypoint file (animals, hands, products; CVAT / Label Studio exports).

Names and skeleton come from the keypoint category; flip pairs from the config or derived from
left/right names; sigmas from the config or a uniform default. One file can be split into train
and val by a fraction of its images: an image is val when the hash of its ``file_name`` and
``split_seed`` falls below the fraction, so adding images to the file never moves the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from .coco import coco_meta, coco_records, load_json, whole_frame_sizes
from .coco_dataset import CocoFileDataset
from .pipeline import KeypointTransform, with_default_sizes
from .splits import split_image_ids
from .validation import BadSamples, OnBadSample

__all__ = ["CocoFormat"]


class CocoFormat(CocoFileDataset):
    """A COCO-format keypoint dataset with boxes from each annotation's ``bbox``.

    Args:
        ann_file: the COCO JSON (``dataset.train_ann=`` / ``dataset.val_ann=``), or a list of
            candidates of which the first one set is used (test: ``[test_ann, val_ann]``). May be None
            for the val split when ``train_ann_file`` and ``val_fraction`` are given.
        img_dir: folder the JSON's ``file_name`` entries are relative to (default: the JSON's folder).
        split: ``"all"`` (the whole file), ``"train"`` or ``"val"`` (a fraction of its images).
        val_fraction: fraction of images held out for val when one file serves both (0 = no split).
        split_seed: seed of that split.
        train_ann_file: the file to split when ``split="val"`` and ``ann_file`` is None.
        category_id: which keypoint category (default: the first with a ``keypoints`` list).
        input_size: network input ``(w, h)`` when ``transform`` is None; None: as below.
        transform: the crop + augmentation pipeline (``dataset.transform``, recipe in
            ``conf/dataset/coco_format.yaml``). Its ``input_size``/``padding`` left None are chosen
            here: when every box is its whole image (single-animal lab frames) the frames' aspect at
            256 px on the short side and padding 1.0, else (192, 256) and 1.25.
        flip_pairs: ``[[i, j], ...]`` by 0-based index or keypoint name; ``[]``: no keypoint has a
            side; None: derived from the names (flip off when names look sided but cannot be paired).
        sigmas: K OKS sigmas; default uniform 0.05 (COCO's for the 17 COCO names).
        name: dataset name in the meta (default: the category name).
        on_bad_sample: ``"raise"`` or ``"skip"``.
    """

    def __init__(
        self,
        ann_file: str | Path | Sequence[str | Path | None] | None,
        img_dir: str | Path | None = None,
        split: Literal["all", "train", "val"] = "all",
        val_fraction: float = 0.0,
        split_seed: int = 0,
        train_ann_file: str | Path | None = None,
        category_id: int | None = None,
        input_size: Sequence[int] | None = None,
        transform: KeypointTransform | None = None,
        flip_pairs: Sequence[Sequence[int | str]] | None = None,
        sigmas: Sequence[float] | None = None,
        name: str | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        if split not in ("all", "train", "val"):
            raise ValueError(f"CocoFormat: split must be 'all', 'train' or 'val', got {split!r}")
        fraction = float(val_fraction or 0.0)
        if ann_file is not None and not isinstance(ann_file, (str, Path)):
            ann_file = next((a for a in ann_file if a not in (None, "", "???")), None)  # first one set
        if ann_file in (None, "", "???"):
            if split == "val" and train_ann_file not in (None, "", "???") and fraction > 0:
                ann_file = train_ann_file
            elif split == "val":
                raise ValueError(
                    "CocoFormat: no validation data; set dataset.val_ann=<file> or dataset.val_fraction=0.1"
                )
            else:
                raise FileNotFoundError("CocoFormat: no annotation file; set dataset.train_ann=/path/to/file.json")
        elif split == "val" and train_ann_file is not None and Path(ann_file) != Path(train_ann_file):
            fraction = 0.0  # a separate val file is used whole
        ann = Path(ann_file)
        if not ann.is_file():
            raise FileNotFoundError(
                f"CocoFormat: annotation file {ann} not found; "
                "set dataset.train_ann= / dataset.val_ann= to an existing file"
            )
        images = Path(img_dir) if img_dir not in (None, "") else ann.parent
        if not images.is_dir():
            raise FileNotFoundError(
                f"CocoFormat: image folder {images} does not exist; set dataset.img_dir= to the folder "
                f"the file names in {ann.name} are relative to"
            )
        data = load_json(ann)
        meta, self.category_id = coco_meta(data, ann, (1, 1), category_id, flip_pairs, sigmas, name)
        keep = None
        if split != "all" and fraction > 0:
            train_ids, val_ids = split_image_ids(data["images"], fraction, split_seed)
            keep = val_ids if split == "val" else train_ids
        bad = BadSamples(on_bad_sample, str(ann))
        records = coco_records(data, ann, images, meta, self.category_id, bad, keep, check_images=True)
        bad.summary()
        transform = with_default_sizes(transform, whole_frame_sizes(data, records), input_size)
        meta = dataclasses.replace(meta, input_size=transform.input_size, padding=transform.padding)
        self.ann_file, self.img_dir, self.split, self.image_ids = ann, images, split, keep
        super().__init__(records, meta, transform, on_bad_sample, bad)
        self.files_root = images
