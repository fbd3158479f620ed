"""Input checks and geometric helpers shared by the tensor metrics (PCK, NME, EPE, MeanOKS)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lit_heatmap.facts import WFLW_ATTRIBUTES  # noqa: F401  (re-exported)


def check_keypoint_inputs(preds: Tensor, target: Tensor, visibility: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``preds (B,K,2)``, ``target (B,K,2)`` and ``visibility (B,K)`` agree."""
    if not (isinstance(preds, Tensor) and isinstance(target, Tensor) and isinstance(visibility, Tensor)):
        raise TypeError(f"{name}.update expects tensors preds, target, visibility")
    if preds.ndim != 3 or preds.shape[-1] != 2:
        raise ValueError(f"{name}: preds must be (B, K, 2), got {tuple(preds.shape)}")
    if target.shape != preds.shape:
        raise ValueError(
            f"{name}: preds {tuple(preds.shape)} and target {tuple(target.shape)} differ (batch size or K mismatch)"
        )
    if visibility.shape != preds.shape[:2]:
        raise ValueError(f"{name}: visibility must be (B, K) = {tuple(preds.shape[:2])}, got {tuple(visibility.shape)}")
    check_finite_ground_truth(target, visibility, name)


def check_finite_ground_truth(target: Tensor, visibility: Tensor, name: str) -> None:
    """Raise ``ValueError`` when a labelled keypoint (``visibility (..., K) > 0``) has a non-finite ground
    truth coordinate in ``target (..., K, 2)``: a broken annotation, never a miss to score."""
    bad = (visibility > 0) & ~torch.isfinite(target).all(-1)
    if bool(bad.any()):
        where = [tuple(int(i) for i in idx) for idx in torch.nonzero(bad)[:3].tolist()]
        raise ValueError(
            f"{name}: {int(bad.sum())} labelled keypoint(s) have NaN/inf ground truth (first (sample, keypoint): "
            f"{where}); fix the annotation or mark the keypoint unlabelled (visibility 0)"
        )


def check_positive(value: float, key: str, name: str) -> float:
    """``value`` as a float, raising ``ValueError`` unless it is finite and > 0."""
    v = float(value)
    if not (v > 0 and v != float("inf")):
        raise ValueError(f"{name}: {key} must be a positive finite number, got {value!r}")
    return v


def check_normalize(normalize: object, allowed: tuple[str, ...], name: str) -> None:
    """``normalize`` is one of ``allowed`` or a pair of keypoint indices (or index lists)."""
    if isinstance(normalize, str):
        if normalize not in allowed:
            raise ValueError(f"{name}: normalize must be one of {allowed} or a pair of indices, got {normalize!r}")
        return
    if not isinstance(normalize, Sequence) or len(normalize) != 2:
        raise ValueError(f"{name}: normalize must be one of {allowed} or a pair of indices, got {normalize!r}")


def check_batch_vector(x: Tensor | None, b: int, key: str, name: str, width: int | None = None) -> Tensor:
    """Check an optional per-sample input (``norm``/``area`` ``(B,)``, ``bbox`` ``(B,4)``) is present and sized."""
    if x is None:
        raise ValueError(f"{name} needs the `{key}` keyword input for this normalisation")
    x = torch.as_tensor(x)
    want = (b,) if width is None else (b, width)
    if tuple(x.shape) != want:
        raise ValueError(f"{name}: `{key}` must have shape {want}, got {tuple(x.shape)}")
    return x.double()


def point_or_centroid(target: Tensor, index: int | Sequence[int]) -> Tensor:
    """``(B, 2)`` GT point ``index``, or the centroid of several indices (e.g. an eye contour)."""
    if isinstance(index, int):
        return target[:, index]
    return target[:, list(index)].mean(1)


def pair_distance(target: Tensor, visibility: Tensor, indices: Sequence[int | Sequence[int]], name: str) -> Tensor:
    """``(B,)`` distance between two GT points (or centroids); NaN where one is unlabelled.

    Args:
        target: ``(B, K, 2)``; visibility: ``(B, K)``.
        indices: two entries, each a keypoint index or a list of indices (centroid).
    """
    if len(indices) != 2:
        raise ValueError(f"{name}: normalisation indices must be a pair, got {indices!r}")
    k = target.shape[1]
    flat = [i for group in indices for i in ([group] if isinstance(group, int) else group)]
    if any(not 0 <= int(i) < k for i in flat):
        raise ValueError(f"{name}: normalisation indices {indices!r} out of range for K={k}")
    t = target.double()
    d = (point_or_centroid(t, indices[0]) - point_or_centroid(t, indices[1])).norm(dim=-1)
    labelled = (visibility[:, flat] > 0).all(1)
    return torch.where(labelled, d, torch.full_like(d, float("nan")))


def keypoint_distances(preds: Tensor, target: Tensor) -> Tensor:
    """``(B, K)`` float64 Euclidean distances; inf where a prediction is non-finite."""
    d = (preds.double() - target.double()).norm(dim=-1)
    return torch.where(torch.isfinite(d), d, torch.full_like(d, float("inf")))


def group_rank(sorted_group: Tensor) -> Tensor:
    """Position of each element inside its run of equal values (input sorted by group):
    ``[3, 3, 5, 7, 7, 7]`` -> ``[0, 1, 0, 0, 1, 2]``."""
    n = sorted_group.numel()
    idx = torch.arange(n, device=sorted_group.device)
    if n == 0:
        return idx
    start = torch.ones(n, dtype=torch.bool, device=sorted_group.device)
    start[1:] = sorted_group[1:] != sorted_group[:-1]
    first = torch.cummax(torch.where(start, idx, torch.zeros_like(idx)), 0).values
    return idx - first
