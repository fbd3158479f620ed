"""Datasets, the crop + augmentation pipeline and the LightningDataModule.

Four parts (docs/architecture.md): pure **geometry** (``geometry.py``), file **readers** that turn an
annotation format into checked records (``coco.py``, ``wflw.py``, ``dlc.py``, ``images.py``),
**datasets** over records (``base.py`` and the dataset classes), and the augmentation **pipeline**
(``pipeline.py``). Every dataset yields sample dicts with the keys of the batch contract (``image``
``(3, H, W)`` uint8 RGB, ``keypoints``, ``visibility``, ``affine``, ``orig_keypoints``,
``orig_visibility``, ``bbox``, ``area``, ``image_id``, ``score``, ``norm``, ``flipped``,
``image_path``); WFLW adds ``attributes``, Synthetic adds ``occluded``.
"""

from .base import KeypointDataset, Record
from .coco_dataset import CocoKeypoints
from .coco_format import CocoFormat
from .datamodule import KeypointDataModule, collate
from .dlc import (
    DLCFrame,
    DLCLabels,
    find_label_files,
    read_label_csv,
    read_labels,
)
from .dlc_dataset import DLCProject, dlc_records, split_records
from .geometry import (
    apply_affine,
    bbox_to_center_size,
    crop_matrix,
    invert_affine,
    is_whole_frame,
    whole_frame_input_size,
)
from .images import ImageBoxes, box_records, image_ids, list_images
from .io import ImageReadError, image_size, read_image
from .meta import (
    DatasetMeta,
    FlipResolution,
    flip_index_from_names,
    flip_index_from_pairs,
    resolve_flip_index,
    sided_names,
)
from .pipeline import CropParams, KeypointTransform, with_default_sizes
from .synthetic import Synthetic
from .validation import BadSampleError
from .wflw_dataset import WFLW

__all__ = [
    "BadSampleError",
    "CocoFormat",
    "CocoKeypoints",
    "CropParams",
    "DLCFrame",
    "DLCLabels",
    "DLCProject",
    "DatasetMeta",
    "FlipResolution",
    "ImageBoxes",
    "ImageReadError",
    "KeypointDataModule",
    "KeypointDataset",
    "KeypointTransform",
    "Record",
    "Synthetic",
    "WFLW",
    "apply_affine",
    "bbox_to_center_size",
    "box_records",
    "collate",
    "crop_matrix",
    "dlc_records",
    "find_label_files",
    "flip_index_from_names",
    "flip_index_from_pairs",
    "image_ids",
    "image_size",
    "invert_affine",
    "is_whole_frame",
    "list_images",
    "read_image",
    "read_label_csv",
    "read_labels",
    "resolve_flip_index",
    "sided_names",
    "split_records",
    "whole_frame_input_size",
    "with_default_sizes",
]
