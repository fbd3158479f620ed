"""Drawing helpers: keypoint/skeleton overlays and heatmap images (numpy uint8 RGB out).

Used by the W&B / TensorBoard image callback, ``lit-heatmap-predict`` and the notebook. Pure
functions: tensors or arrays in, ``(H, W, 3)`` uint8 RGB arrays out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

GT_COLOR = (40, 220, 40)  # green
PRED_COLOR = (230, 40, 40)  # red
SKELETON_COLOR = (255, 200, 0)


def to_rgb(image: Tensor) -> np.ndarray:
    """A batch image ``(3, H, W)`` uint8 RGB (the network input) -> ``(H, W, 3)`` uint8 numpy."""
    return image.detach().cpu().to(torch.uint8).permute(1, 2, 0).numpy().copy()


def _points(x: Any) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def draw_keypoints(
    image: np.ndarray,
    keypoints: Tensor | np.ndarray,
    mask: Tensor | np.ndarray | None = None,
    skeleton: Sequence[Sequence[int]] | None = None,
    color: tuple[int, int, int] = PRED_COLOR,
    skeleton_color: tuple[int, int, int] | None = SKELETON_COLOR,
    radius: int = 2,
    thickness: int = 1,
    scale: float = 1.0,
) -> np.ndarray:
    """Draws keypoints (dots) and skeleton edges (lines) on a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB (already resized by ``scale``, if any).
        keypoints: ``(K, 2)`` pixel coordinates of the unscaled image.
        mask: ``(K,)`` which keypoints to draw (visibility > 0 or score above a threshold); all if None.
        skeleton: ``(i, j)`` index pairs; an edge is drawn when both ends are drawn.
        scale: multiplies the coordinates (when the image was upscaled for display).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    out = np.ascontiguousarray(image.copy())
    pts = _points(keypoints).reshape(-1, 2) * scale
    keep = np.ones(len(pts), bool) if mask is None else (_points(mask).reshape(-1) > 0)
    keep &= np.isfinite(pts).all(1)
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px

    def fixed(p: np.ndarray) -> tuple[int, int]:
        return int(round(p[0] * (1 << shift))), int(round(p[1] * (1 << shift)))

    if skeleton is not None and skeleton_color is not None:
        for i, j in skeleton:
            if i < len(pts) and j < len(pts) and keep[i] and keep[j]:
                cv2.line(out, fixed(pts[i]), fixed(pts[j]), skeleton_color, thickness, cv2.LINE_AA, shift)
    for k in np.flatnonzero(keep):
        cv2.circle(out, fixed(pts[k]), radius << shift, color, -1, cv2.LINE_AA, shift)
    return out


def overlay_prediction(
    image: np.ndarray,
    pred: Tensor | np.ndarray,
    gt: Tensor | np.ndarray | None = None,
    gt_mask: Tensor | np.ndarray | None = None,
    pred_mask: Tensor | np.ndarray | None = None,
    skeleton: Sequence[Sequence[int]] | None = None,
    min_size: int = 256,
) -> np.ndarray:
    """Ground truth (green) and prediction (red, with skeleton) on one image, upscaled so that its
    shorter side is at least ``min_size`` px. Coordinates are in ``image`` pixels."""
    big, scale = upscale(image, min_size)
    radius = max(2, int(round(1.5 * scale)))
    if gt is not None:
        big = draw_keypoints(big, gt, gt_mask, None, GT_COLOR, None, radius + 1, 1, scale)
    return draw_keypoints(big, pred, pred_mask, skeleton, PRED_COLOR, SKELETON_COLOR, radius, 1, scale)


def upscale(image: np.ndarray, min_size: int = 256) -> tuple[np.ndarray, float]:
    """Resizes ``image`` so that its shorter side is at least ``min_size``; returns it and the scale."""
    h, w = image.shape[:2]
    scale = max(1.0, float(min_size) / float(min(h, w)))
    if scale == 1.0:
        return image, 1.0
    return cv2.resize(image, (int(round(w * scale)), int(round(h * scale))), interpolation=cv2.INTER_LINEAR), scale


def output_heatmaps(output: Any) -> Tensor:
    """A ``(B, K, h, w)`` map to look at, from any head output.

    2D heatmaps are returned as they are; SimCC ``(x (B,K,Wx), y (B,K,Hy))`` becomes the outer product
    of the two softmax distributions; a hybrid ``(heatmaps, (x, y))`` shows its 2D branch.
    """
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and len(output) == 2:
        first, second = output
        if isinstance(first, Tensor) and first.ndim == 4:
            return first
        if isinstance(first, Tensor) and isinstance(second, Tensor) and first.ndim == 3:
            px, py = first.float().softmax(-1), second.float().softmax(-1)
            return py.unsqueeze(-1) * px.unsqueeze(-2)
    raise TypeError(f"cannot make heatmaps from a head output of type {type(output).__name__}")


def heatmap_image(heatmaps: Tensor, image: np.ndarray | None = None, alpha: float = 0.6) -> np.ndarray:
    """``(K, h, w)`` or ``(h, w)`` heatmaps -> a colour map of their max over K (``(H, W, 3)`` uint8),
    resized to ``image`` and blended onto it when given."""
    hm = heatmaps.detach().float().cpu()
    if hm.ndim == 3:
        hm = hm.amax(0)
    hm = hm - hm.min()
    hm = (hm / hm.max().clamp_min(1e-12)).numpy()
    color = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
    if image is None:
        return np.ascontiguousarray(color)
    color = cv2.resize(color, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(image, 1.0 - alpha, np.ascontiguousarray(color), alpha, 0.0)


def image_grid(images: Sequence[np.ndarray], ncols: int = 4, pad: int = 2) -> np.ndarray:
    """Tiles equally sized ``(H, W, 3)`` images into one ``(rows*H, ncols*W, 3)`` uint8 image."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    h, w = images[0].shape[:2]
    ncols = min(ncols, len(images))
    rows = (len(images) + ncols - 1) // ncols
    grid = np.full((rows * (h + pad) - pad, ncols * (w + pad) - pad, 3), 255, np.uint8)
    for n, img in enumerate(images):
        r, c = divmod(n, ncols)
        img = img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h))
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return grid
