"""Datasets, the albumentations pipeline and the LightningDataModule.

Every dataset yields per-sample dicts with the CONTRACT keys (``image``, ``keypoints``,
``visibility``, ``affine``, ``orig_keypoints``, ``orig_visibility``, ``bbox``, ``area``,
``image_id``, ``score``, ``norm``) plus ``flipped`` and ``image_path``; WFLW adds ``attributes``,
Synthetic adds ``occluded``.
"""

from .base import KeypointDataset, Record
from .coco import CocoKeypoints
from .coco_format import CocoFormat
from .datamodule import KeypointDataModule, collate
from .io import ImageReadError, read_image
from .meta import (
    COCO_KEYPOINT_NAMES,
    COCO_SIGMAS,
    COCO_SKELETON,
    WFLW_FLIP_INDEX,
    WFLW_KEYPOINT_NAMES,
    DatasetMeta,
    flip_index_from_names,
    flip_index_from_pairs,
)
from .synthetic import Synthetic
from .transforms import (
    CropParams,
    KeypointTransform,
    apply_affine,
    bbox_to_center_size,
    crop_matrix,
    invert_affine,
    make_transform,
)
from .validation import BadSampleError
from .wflw import WFLW

__all__ = [
    "BadSampleError",
    "COCO_KEYPOINT_NAMES",
    "CocoFormat",
    "CocoKeypoints",
    "COCO_SIGMAS",
    "COCO_SKELETON",
    "CropParams",
    "DatasetMeta",
    "ImageReadError",
    "KeypointDataModule",
    "KeypointDataset",
    "KeypointTransform",
    "Record",
    "Synthetic",
    "WFLW",
    "WFLW_FLIP_INDEX",
    "WFLW_KEYPOINT_NAMES",
    "apply_affine",
    "bbox_to_center_size",
    "collate",
    "crop_matrix",
    "flip_index_from_names",
    "flip_index_from_pairs",
    "invert_affine",
    "make_transform",
    "read_image",
]
