"""PCK (percentage of correct keypoints) and the area under the PCK curve, as pure functions.

A labelled keypoint is correct when ``distance / normaliser < threshold`` (strict, as MMPose).
Unlabelled keypoints and samples whose normaliser is not a positive finite number are excluded.
A non-finite prediction is a miss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lit_heatmap.metrics.functional.shared import (
    check_batch_vector,
    check_keypoint_inputs,
    keypoint_distances,
    pair_distance,
)

Normalize = str | Sequence[int]
#: default torso pair: COCO left shoulder (5) and right hip (12), the FLIC/LSP torso diameter.
TORSO_INDICES = (5, 12)


def pck_normalizer(
    target: Tensor,
    visibility: Tensor,
    normalize: Normalize,
    *,
    bbox: Tensor | None = None,
    norm: Tensor | None = None,
    indices: Sequence[int] | None = None,
    name: str = "PCK",
) -> Tensor:
    """``(B,)`` float64 per-sample normaliser (NaN where it cannot be computed).

    ``normalize``:
      * ``"bbox"``: ``max(w, h)`` of ``bbox (B, 4)`` (x, y, w, h);
      * ``"head"``: the per-sample head size given in ``norm (B,)`` (e.g. MPII: 0.6 x head-box diagonal);
      * ``"norm"``: the batch's ``norm (B,)`` as is;
      * ``"torso"``: GT distance between the keypoints ``indices`` (default :data:`TORSO_INDICES`);
      * ``(i, j)``: GT distance between keypoints ``i`` and ``j``.
    """
    b = target.shape[0]
    if isinstance(normalize, str):
        if normalize == "bbox":
            box = check_batch_vector(bbox, b, "bbox", name, width=4)
            return torch.maximum(box[:, 2], box[:, 3])
        if normalize in ("head", "norm"):
            return check_batch_vector(norm, b, "norm", name)
        if normalize == "torso":
            return pair_distance(target, visibility, tuple(indices or TORSO_INDICES), name)
        raise ValueError(
            f"{name}: normalize must be 'bbox', 'head', 'torso', 'norm' or a pair of indices, got {normalize!r}"
        )
    return pair_distance(target, visibility, tuple(normalize), name)


def pck_counts(
    preds: Tensor, target: Tensor, visibility: Tensor, normalizer: Tensor, thresholds: Tensor
) -> tuple[Tensor, Tensor]:
    """Correct and valid counts.

    Args:
        preds, target: ``(B, K, 2)``; visibility: ``(B, K)``; normalizer: ``(B,)``;
        thresholds: ``(T,)``.

    Returns:
        ``correct (T, K)`` and ``valid (K,)``, float64 counts over the batch.
    """
    n = normalizer.double().to(preds.device)
    ok_norm = torch.isfinite(n) & (n > 0)
    valid = (visibility > 0) & ok_norm[:, None]  # (B, K)
    dist = keypoint_distances(preds, target) / torch.where(ok_norm, n, torch.ones_like(n))[:, None]
    thr = thresholds.double().to(preds.device)
    correct = (dist[None] < thr[:, None, None]) & valid[None]  # (T, B, K)
    return correct.sum(1).double(), valid.sum(0).double()


def pck_from_counts(correct: Tensor, valid: Tensor, average: str = "macro") -> Tensor:
    """PCK from counts: ``correct (..., K)``, ``valid (K,)`` -> ``(...)``.

    ``macro``: mean over keypoints (with at least one valid sample) of the per-keypoint accuracy;
    ``micro``: total correct / total valid. NaN when nothing was valid.
    """
    if average == "micro":
        return correct.sum(-1) / valid.sum()
    if average != "macro":
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    has = valid > 0
    per_kp = correct[..., has] / valid[has]
    return per_kp.mean(-1) if has.any() else torch.full(correct.shape[:-1], float("nan"), dtype=torch.float64)


def pck(
    preds: Tensor,
    target: Tensor,
    visibility: Tensor,
    threshold: float = 0.05,
    normalize: Normalize = "bbox",
    *,
    bbox: Tensor | None = None,
    norm: Tensor | None = None,
    indices: Sequence[int] | None = None,
    average: str = "macro",
) -> Tensor:
    """PCK@threshold of one batch (float64 scalar). See :func:`pck_normalizer` for ``normalize``."""
    check_keypoint_inputs(preds, target, visibility, "pck")
    n = pck_normalizer(target, visibility, normalize, bbox=bbox, norm=norm, indices=indices, name="pck")
    correct, valid = pck_counts(preds, target, visibility, n, torch.tensor([float(threshold)], dtype=torch.float64))
    return pck_from_counts(correct[0], valid, average)


def pck_per_keypoint(correct: Tensor, valid: Tensor) -> Tensor:
    """``(K,)`` per-keypoint accuracy from counts, NaN for keypoints never labelled."""
    return torch.where(valid > 0, correct / valid.clamp(min=1), torch.full_like(valid, float("nan")))


def auc_thresholds(max_threshold: float, num_thresholds: int) -> Tensor:
    """``(T,)`` thresholds ``max_threshold * i / T`` for ``i = 0..T-1`` (MMPose's AUC grid)."""
    return torch.arange(num_thresholds, dtype=torch.float64) * (float(max_threshold) / num_thresholds)


def pck_auc(
    preds: Tensor,
    target: Tensor,
    visibility: Tensor,
    max_threshold: float = 0.5,
    num_thresholds: int = 20,
    normalize: Normalize = "bbox",
    *,
    bbox: Tensor | None = None,
    norm: Tensor | None = None,
    indices: Sequence[int] | None = None,
    average: str = "macro",
) -> Tensor:
    """Area under the PCK curve normalised to [0, 1]: the mean PCK over :func:`auc_thresholds`
    (a left Riemann sum, as MMPose's ``keypoint_auc``; MMPose's hand AUC = ``normalize="norm"``
    with ``norm = 30`` px and ``max_threshold=1``)."""
    check_keypoint_inputs(preds, target, visibility, "pck_auc")
    n = pck_normalizer(target, visibility, normalize, bbox=bbox, norm=norm, indices=indices, name="pck_auc")
    correct, valid = pck_counts(preds, target, visibility, n, auc_thresholds(max_threshold, num_thresholds))
    return pck_from_counts(correct, valid, average).mean()
