"""NME (normalised mean error) with failure rate and CED AUC, and EPE (end-point error).

Per sample, ``nme_i = mean over labelled keypoints of ||p - g|| / d_i`` with ``d_i`` the normaliser.
``FR@t`` is the fraction of samples with ``nme_i > t``; ``AUC@t`` is the area under the cumulative
error distribution ``CED(x) = P(nme <= x)`` on ``[0, t]`` divided by ``t``, computed exactly as
``mean_i max(0, t - nme_i) / t`` (the limit of the usual fine-step Simpson/trapezoid integration).
A sample with a non-finite predicted keypoint gets ``nme_i = inf``: a failure, 0 in the AUC, and it
is left out of the NME mean (counted by the metric classes, which warn).
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

NMENormalize = str | Sequence[int]
#: default index pairs: WFLW outer eye corners (inter-ocular) and pupils (inter-pupil).
DEFAULT_INDICES = {"inter_ocular": (60, 72), "inter_pupil": (96, 97)}


def nme_normalizer(
    target: Tensor,
    visibility: Tensor,
    normalize: NMENormalize = "inter_ocular",
    indices: Sequence[int | Sequence[int]] | None = None,
    *,
    bbox: Tensor | None = None,
    norm: Tensor | None = None,
    name: str = "NME",
) -> Tensor:
    """``(B,)`` float64 NME normaliser.

    ``normalize``: ``"inter_ocular"`` (GT distance of ``indices``, default WFLW (60, 72)),
    ``"inter_pupil"`` (default WFLW pupils (96, 97); an entry may be a list of indices whose centroid
    is the pupil, e.g. 300W's eye contours ``((36, ..., 41), (42, ..., 47))``), ``"bbox"``
    (``sqrt(w * h)`` of ``bbox (B, 4)``), ``"norm"`` (the batch's ``norm (B,)``) or a pair ``(i, j)``.
    """
    b = target.shape[0]
    if isinstance(normalize, str):
        if normalize in DEFAULT_INDICES:
            return pair_distance(target, visibility, tuple(indices or DEFAULT_INDICES[normalize]), name)
        if normalize == "bbox":
            box = check_batch_vector(bbox, b, "bbox", name, width=4)
            return torch.sqrt(box[:, 2] * box[:, 3])
        if normalize == "norm":
            return check_batch_vector(norm, b, "norm", name)
        raise ValueError(
            f"{name}: normalize must be 'inter_ocular', 'inter_pupil', 'bbox', 'norm' or (i, j), got {normalize!r}"
        )
    return pair_distance(target, visibility, tuple(normalize), name)


def per_sample_nme(preds: Tensor, target: Tensor, visibility: Tensor, normalizer: Tensor) -> Tensor:
    """``(B,)`` float64 per-sample NME (fraction, not %): inf if a labelled prediction is non-finite,
    NaN if the sample has no labelled keypoint or no valid (positive, finite) normaliser."""
    vis = visibility > 0
    d = keypoint_distances(preds, target)
    d = torch.where(vis, d, torch.zeros_like(d))
    n = normalizer.double().to(preds.device)
    ok = torch.isfinite(n) & (n > 0) & vis.any(1)
    mean_d = d.sum(1) / vis.sum(1).clamp(min=1)
    return torch.where(ok, mean_d / torch.where(ok, n, torch.ones_like(n)), torch.full_like(n, float("nan")))


def nme_stats(nmes: Tensor, failure_threshold: float) -> Tensor:
    """Sufficient statistics ``(5,)`` of per-sample NMEs (NaN entries are skipped):
    ``[sum of finite nme, #finite, #failures (nme > t), sum of max(0, t - nme) / t, #samples]``."""
    valid = ~torch.isnan(nmes)
    v = nmes[valid]
    finite = torch.isfinite(v)
    t = float(failure_threshold)
    return torch.stack(
        [
            v[finite].sum(),
            finite.sum().double(),
            (v > t).sum().double(),
            ((t - v).clamp(min=0) / t).sum(),
            valid.sum().double(),
        ]
    )


def nme_from_stats(stats: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(NME, FR, AUC)`` in % from :func:`nme_stats` sums (last dim 5); NaN where there is no sample."""
    s = stats.double()
    nme = s[..., 0] / s[..., 1]
    fr = s[..., 2] / s[..., 4]
    auc = s[..., 3] / s[..., 4]
    return 100 * nme, 100 * fr, 100 * auc


def nme(
    preds: Tensor,
    target: Tensor,
    visibility: Tensor,
    normalize: NMENormalize = "inter_ocular",
    indices: Sequence[int | Sequence[int]] | None = None,
    failure_threshold: float = 0.10,
    *,
    bbox: Tensor | None = None,
    norm: Tensor | None = None,
) -> dict[str, Tensor]:
    """NME, ``FR@t`` and ``AUC@t`` of one batch, all in % (keys ``"NME"``, ``f"FR@{t:g}"``, ``f"AUC@{t:g}"``)."""
    check_keypoint_inputs(preds, target, visibility, "nme")
    n = nme_normalizer(target, visibility, normalize, indices, bbox=bbox, norm=norm, name="nme")
    values = nme_from_stats(nme_stats(per_sample_nme(preds, target, visibility, n), failure_threshold))
    t = f"{failure_threshold:g}"
    return dict(zip(("NME", f"FR@{t}", f"AUC@{t}"), values))


def epe(preds: Tensor, target: Tensor, visibility: Tensor) -> Tensor:
    """Mean Euclidean distance (pixels) over labelled keypoints with finite predictions (float64)."""
    check_keypoint_inputs(preds, target, visibility, "epe")
    d = keypoint_distances(preds, target)
    use = (visibility > 0) & torch.isfinite(d)
    return d[use].sum() / use.sum()
