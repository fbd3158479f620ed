"""Top-down crop geometry: pure functions on boxes, crop matrices and points (NumPy, float64; the batched
:func:`to_original` is torch).

Convention: the centre of pixel column ``j``, row ``i`` is ``(x=j, y=i)``, and an image of width W
spans ``[-0.5, W - 0.5]`` (OpenCV, DeepLabCut, napari and the codecs agree; docs/architecture.md).
The crop matrix maps the (expanded, aspect-fixed) box ``[cx - w/2, cx + w/2] x [cy - h/2, cy + h/2]``
exactly onto the input ``[-0.5, W_in - 0.5] x [-0.5, H_in - 0.5]``; a flip mirrors ``x -> W_in - 1 - x``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DEFAULT_INPUT_SIZE",
    "apply_affine",
    "bbox_to_center_size",
    "crop_matrix",
    "invert_affine",
    "is_whole_frame",
    "to_original",
    "whole_frame_input_size",
]


def bbox_to_center_size(
    bbox: Sequence[float], input_size: Sequence[int], padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """HRNet/MMPose box handling: fix the box to the input aspect ratio, then expand it.

    Args:
        bbox: ``(x, y, w, h)`` in original pixels.
        input_size: network input ``(w, h)``.
        padding: expansion factor (1.25 in HRNet and MMPose).

    Returns:
        ``center (2,)`` and ``size (2,)`` (w, h) of the crop region, float64, original pixels.
    """
    x, y, w, h = (float(v) for v in bbox)
    aspect = float(input_size[0]) / float(input_size[1])
    center = np.array([x + 0.5 * w, y + 0.5 * h], dtype=np.float64)
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], dtype=np.float64) * padding


def crop_matrix(
    center: Sequence[float],
    size: Sequence[float],
    output_size: Sequence[int],
    rotation: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """The ``(2, 3)`` float64 matrix mapping original pixels to input pixels.

    The region of ``size = (w, h)`` around ``center`` lands exactly on the ``output_size = (W, H)``
    input; ``rotation`` (degrees, counter-clockwise as seen, like ``cv2.getRotationMatrix2D``) turns
    the content about the centre; ``flip`` mirrors the result horizontally (``x -> W - 1 - x``).
    """
    out_w, out_h = float(output_size[0]), float(output_size[1])
    sx, sy = out_w / float(size[0]), out_h / float(size[1])
    t = np.deg2rad(rotation)
    cos, sin = np.cos(t), np.sin(t)
    lin = np.array([[sx * cos, sx * sin], [-sy * sin, sy * cos]], dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    offset = np.array([(out_w - 1.0) / 2.0, (out_h - 1.0) / 2.0]) - lin @ c
    m = np.concatenate([lin, offset[:, None]], axis=1)
    if flip:
        m[0] = -m[0]
        m[0, 2] += out_w - 1.0
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine matrix (float64)."""
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map ``points (..., 2)`` by the ``(2, 3)`` matrix ``m``."""
    return points @ m[:, :2].T + m[:, 2]


def to_original(keypoints: Tensor, affine: Tensor) -> Tensor:
    """Map keypoints ``(B, K, 2)`` from input px to original px with ``affine (B, 2, 3)`` (a batch's
    input -> original matrices: :func:`apply_affine` for a batch of tensors)."""
    a = affine.to(keypoints.dtype)
    return torch.einsum("bij,bkj->bki", a[:, :, :2], keypoints) + a[:, None, :, 2]


WHOLE_FRAME_SHORT_SIDE = 256  # px: the input's short side for whole-frame data
DEFAULT_INPUT_SIZE = (192, 256)  # (w, h): the COCO person crop, for boxes that are not whole frames


def is_whole_frame(bbox: Sequence[float], width: float, height: float, tolerance: float = 0.02) -> bool:
    """True when the box ``(x, y, w, h)`` covers the ``width x height`` image (within ``tolerance`` of its sides)."""
    x, y, w, h = (float(v) for v in bbox)
    tol_w, tol_h = tolerance * width, tolerance * height
    return abs(x) <= tol_w and abs(y) <= tol_h and abs(x + w - width) <= tol_w and abs(y + h - height) <= tol_h


def whole_frame_input_size(
    frame_sizes: Sequence[Sequence[int]], short_side: int = WHOLE_FRAME_SHORT_SIDE, multiple: int = 32
) -> tuple[int, int]:
    """``(w, h)`` input for whole frames: the median frame aspect ratio, ``short_side`` on the short side
    and the long side rounded down to a multiple of ``multiple`` (640x480 -> (320, 256))."""
    sizes = np.asarray(frame_sizes, dtype=np.float64).reshape(-1, 2)
    aspect = float(np.median(sizes[:, 0] / sizes[:, 1]))  # w / h
    long = max(multiple, int(short_side * max(aspect, 1.0 / aspect) // multiple) * multiple)
    return (long, short_side) if aspect >= 1.0 else (short_side, long)
