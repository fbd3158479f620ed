"""The HRNet/MMPose top-down evaluation protocol with detected boxes: rescoring and OKS-NMS.

For every detected person box the model predicts K keypoints with scores. Before COCO AP, MMPose's
``CocoMetric`` (``score_mode="bbox_keypoint"``, ``nms_mode="oks_nms"``) does, per image:

1. :func:`rescore`: instance score = box score x mean of the keypoint scores ``> threshold`` (0.2);
   0 when no keypoint passes.
2. :func:`oks_nms`: greedy NMS on those scores with MMPose's ``oks_iou`` (threshold 0.9), which is
   *not* COCOeval's OKS: the scale is the mean of the two instances' areas and the mean runs over all
   K keypoints. The area of a top-down prediction is that of the padded, aspect-fixed box its crop was
   taken from (:func:`crop_areas`; HRNet's ``prod(scale * 200)``, MMPose 1.x's
   ``prod(bbox_scales)``); only without boxes (bottom-up) does MMPose take the box spanned by the
   keypoints (:func:`keypoint_areas`, the default of :func:`oks_nms`).

:func:`topdown_results` applies both. Everything is vectorised over images in the style of
:mod:`lit_heatmap.metrics.functional.coco`: instances are laid out in per-image slots in score order,
the pairwise OKS of an image is one ``(S, S)`` block, and the greedy loop runs over the slot rank
(at most the largest number of instances of one image), in lockstep for all images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from lit_heatmap.metrics.functional.oks import EPS, as_sigmas
from lit_heatmap.metrics.functional.shared import group_rank

__all__ = ["crop_areas", "keypoint_areas", "oks_nms", "pairwise_nms_oks", "rescore", "topdown_results"]

#: pairs per inner OKS block of :func:`pairwise_nms_oks` (a few (b, S, S) float64 buffers that fit in L2)
_CACHE_PAIRS = 1 << 15


def rescore(keypoint_scores: Tensor, box_scores: Tensor, threshold: float = 0.2) -> Tensor:
    """MMPose's ``bbox_keypoint`` instance score.

    Args:
        keypoint_scores: ``(N, K)`` keypoint confidences.
        box_scores: ``(N,)`` detector box scores.
        threshold: keypoints with a score ``> threshold`` (strictly) enter the mean. The comparison is
            made in the dtype of ``keypoint_scores`` (float32 scores: float32(0.2) does not pass 0.2, as
            with NumPy 2's float32 comparison in MMPose and torch's); the mean and product are float64.

    Returns:
        ``(N,)`` float64: ``box_score * mean(keypoint scores > threshold)``, 0 where no keypoint
        passes (NaN keypoint scores never pass).
    """
    valid = keypoint_scores > threshold  # in the scores' dtype (float32 scores: a float32 comparison)
    s = keypoint_scores.to(torch.float64)
    total = torch.where(valid, s, torch.zeros_like(s)).sum(-1)
    count = valid.sum(-1)
    mean = torch.where(count > 0, total / count.clamp(min=1).to(s.dtype), torch.zeros_like(total))
    return box_scores.to(device=s.device, dtype=torch.float64).reshape(mean.shape) * mean


def keypoint_areas(keypoints: Tensor) -> Tensor:
    """Area of the box spanned by each instance's keypoints (MMPose's ``area`` without ``areas``).

    Args:
        keypoints: ``(..., K, 2+)`` keypoints (x, y[, ...]).

    Returns:
        ``(...)`` float64 ``(max x - min x) * (max y - min y)``; NaN where a coordinate is NaN.
    """
    xy = keypoints[..., :2].to(torch.float64)
    x, y = xy[..., 0], xy[..., 1]
    return (x.amax(-1) - x.amin(-1)) * (y.amax(-1) - y.amin(-1))


def crop_areas(affine: Tensor, input_size: Sequence[int]) -> Tensor:
    """Area in original pixels of the region each crop was taken from: the padded, aspect-fixed box.

    Args:
        affine: ``(..., 2, 3)`` input -> original px matrices (a sample's ``affine``; padding and aspect
            fix are inside it, see :func:`lit_heatmap.data.geometry.crop_matrix`).
        input_size: the network input ``(w, h)`` in px.

    Returns:
        ``(...)`` float64 ``|det(affine[..., :2])| * w * h`` (rotation and flip leave it unchanged).
    """
    lin = affine[..., :2].to(torch.float64)
    det = lin[..., 0, 0] * lin[..., 1, 1] - lin[..., 0, 1] * lin[..., 1, 0]
    return det.abs() * (float(input_size[0]) * float(input_size[1]))


def pairwise_nms_oks(keypoints: Tensor, areas: Tensor, sigmas: Sequence[float] | Tensor | None = None) -> Tensor:
    """Pairwise OKS of MMPose's ``oks_iou`` (``vis_thr=None``) between the instances of each group.

    Args:
        keypoints: ``(..., S, K, 2)`` keypoints of S instances.
        areas: ``(..., S)`` instance areas.
        sigmas: ``K`` sigmas (COCO's 17 by default).

    Returns:
        ``(..., S, S)`` float64, entry ``[a, b]`` = ``mean_k exp(-e_k)`` over all K keypoints with
        ``e_k = ((x_b - x_a)^2 + (y_b - y_a)^2) / (2 sigma_k)^2 / ((area_a + area_b) / 2 + eps) / 2``
        (MMPose's operation order; the value is symmetric). No special handling of non-finite
        values here (NaN propagates); :func:`oks_nms` masks those instances.
    """
    sig = as_sigmas(sigmas).to(keypoints.device)
    k = sig.numel()
    if keypoints.shape[-2] != k:
        raise ValueError(f"{k} sigmas given for K={keypoints.shape[-2]} keypoints")
    variances = (sig * 2) ** 2
    lead, s = keypoints.shape[:-3], keypoints.shape[-3]
    n_groups = math.prod(lead)
    xy = keypoints[..., :2].to(torch.float64).reshape(n_groups, s, k, 2).transpose(1, 2)  # (B, K, S, 2)
    a = areas.to(device=xy.device, dtype=torch.float64).reshape(n_groups, s)
    out = torch.empty(xy.shape[0], s, s, dtype=torch.float64, device=xy.device)
    step = max(1, _CACHE_PAIRS // max(1, s * s))  # blocks of groups that stay in cache: ~2x faster
    for b0 in range(0, xy.shape[0], step):
        b1 = b0 + step
        ab = a[b0:b1]
        scale = (ab[:, :, None] + ab[:, None, :]) / 2 + EPS  # (b, S, S)
        total = torch.zeros_like(scale)
        for j in range(k):  # accumulate over keypoints: memory stays (b, S, S)
            x, y = xy[b0:b1, j, :, 0], xy[b0:b1, j, :, 1]
            dx = x[:, None, :] - x[:, :, None]
            dy = y[:, None, :] - y[:, :, None]
            e = dx.mul_(dx).add_(dy.mul_(dy)).div_(variances[j]).div_(scale).div_(2)
            total.add_(e.neg_().exp_())
        out[b0:b1] = total.div_(k)
    return out.reshape(*lead, s, s)


def _chunks(counts: Tensor, budget: int) -> list[tuple[int, int, int]]:
    """Split images sorted by ascending instance count into ``(start, end, slots)`` chunks with
    ``(end - start) * slots^2`` at most ``budget`` (one image per chunk at least)."""
    n = counts.numel()
    c2 = counts.to(torch.float64) ** 2
    out, s = [], 0
    while s < n:
        # cost of [s, e) is (e - s) * counts[e - 1]^2, increasing in e
        cost = torch.arange(1, n - s + 1, dtype=torch.float64, device=counts.device) * c2[s:]
        e = s + max(1, int((cost <= budget).sum()))
        out.append((s, e, int(counts[e - 1])))
        s = e
    return out


def oks_nms(
    keypoints: Tensor,
    scores: Tensor,
    image_ids: Tensor,
    sigmas: Sequence[float] | Tensor | None = None,
    threshold: float | None = 0.9,
    areas: Tensor | None = None,
    float32_oks: bool = True,
    chunk_pairs: int = 1 << 22,
) -> Tensor:
    """MMPose's ``oks_nms(kpts_db, thr, sigmas, vis_thr=None)`` for every image at once.

    Per image: instances in score order; the best remaining one is kept and every remaining
    instance whose :func:`pairwise_nms_oks` with it is ``> threshold`` is dropped (``<= threshold`` stays).

    Args:
        keypoints: ``(N, K, 2+)`` predicted keypoints (x, y[, score]); only x, y are used.
        scores: ``(N,)`` instance scores (e.g. from :func:`rescore`); NaN is treated as ``-inf``.
        image_ids: ``(N,)`` integer image id of each instance; NMS runs within each image.
        sigmas: ``K`` sigmas (COCO's 17 by default).
        threshold: OKS threshold (MMPose's ``nms_thr``); ``None`` keeps every instance.
        areas: ``(N,)`` instance areas: for top-down predictions the crop boxes' (:func:`crop_areas`);
            by default :func:`keypoint_areas` (MMPose's ``area`` when predictions carry no ``areas``).
        float32_oks: compare as MMPose does: ``oks_iou`` stores the OKS in a float32 array and numpy
            compares it with the (Python float) threshold in float32. ``False`` compares the float64
            OKS with the float64 threshold. The two differ only when the OKS lies within ~6e-8 of
            the threshold.
        chunk_pairs: bound on ``images x slots^2`` per OKS block (memory); a larger image is done alone.

    Tie rule: the order is MMPose's ``scores.argsort()[::-1]``, defined here as the reverse of a
    *stable* ascending sort: among equal scores (after NaN -> -inf) the instance that comes later in
    the input (equivalently, later within its image) is ranked first.

    Non-finite rule: an instance with a non-finite keypoint coordinate (or a non-finite area) has OKS
    0 with every instance: it is never suppressed and suppresses nothing, whatever the threshold.
    (MMPose would get NaN there, and since ``NaN <= thr`` is False it would drop it, or drop every
    other instance of the image when the NaN instance is ranked first.) A NaN OKS between valid
    instances (only possible with degenerate, e.g. negative, given ``areas``) also counts as 0.

    Arithmetic is float64 in MMPose's operation order; the sum over keypoints may differ from numpy's
    in the last bit.

    Returns:
        ``(N,)`` bool, True for kept instances.
    """
    f64 = torch.float64
    device = keypoints.device
    n = scores.numel()
    keep = torch.ones(n, dtype=torch.bool, device=device)
    if n == 0:
        return keep
    sig = as_sigmas(sigmas).to(device)
    k = sig.numel()
    if keypoints.dim() != 3 or keypoints.shape[0] != n or keypoints.shape[1] != k or keypoints.shape[2] < 2:
        raise ValueError(f"keypoints {tuple(keypoints.shape)} do not match (N={n}, K={k}, 2+)")
    if threshold is None:
        return keep
    xy = keypoints[..., :2].to(f64).reshape(n, k, 2)
    area = keypoint_areas(xy) if areas is None else areas.to(device=device, dtype=f64).reshape(n)
    valid = torch.isfinite(xy).all(-1).all(-1) & torch.isfinite(area)
    sc = scores.to(device=device, dtype=f64).reshape(n)
    sc = torch.where(torch.isnan(sc), torch.full_like(sc, -float("inf")), sc)
    _, img = torch.unique(image_ids.reshape(-1).to(device), sorted=True, return_inverse=True)
    n_img = int(img.max()) + 1

    # per-image slots in score order: stable ascending, reversed (= MMPose's argsort()[::-1])
    o1 = torch.sort(sc, stable=True).indices.flip(0)
    order = o1[torch.sort(img[o1], stable=True).indices]  # by image, then score descending
    rank = group_rank(img[order])
    counts = torch.bincount(img, minlength=n_img)
    # process images by ascending instance count, in chunks of bounded images x slots^2
    by_count = torch.sort(counts, stable=True).indices
    pos = torch.empty_like(by_count)
    pos[by_count] = torch.arange(n_img, device=device)
    inst_pos = pos[img[order]]  # position of each (ordered) instance's image in the count order
    thr32 = torch.tensor(threshold, dtype=torch.float32, device=device)
    thr64 = torch.tensor(threshold, dtype=f64, device=device)

    for start, end, s in _chunks(counts[by_count], chunk_pairs):
        sel = (inst_pos >= start) & (inst_pos < end)
        idx, row, col = order[sel], inst_pos[sel] - start, rank[sel]
        c = end - start
        slot_ok = torch.zeros(c, s, dtype=torch.bool, device=device)
        slot_ok[row, col] = True
        slot_valid = torch.zeros(c, s, dtype=torch.bool, device=device)
        slot_valid[row, col] = valid[idx]
        kxy = torch.zeros(c, s, k, 2, dtype=f64, device=device)
        kxy[row, col] = torch.where(valid[idx, None, None], xy[idx], torch.zeros_like(xy[idx]))
        ka = torch.zeros(c, s, dtype=f64, device=device)
        ka[row, col] = torch.where(valid[idx], area[idx], torch.zeros_like(area[idx]))

        oks = pairwise_nms_oks(kxy, ka, sig)  # (c, S, S)
        over = oks.to(torch.float32) > thr32 if float32_oks else oks > thr64
        over = torch.where(torch.isnan(oks), torch.zeros_like(over), over)
        later = torch.ones(s, s, dtype=torch.bool, device=device).triu_(1)  # [a, b]: b ranked after a
        suppress = over & later & slot_valid[:, :, None] & slot_valid[:, None, :]
        alive = slot_ok.clone()
        for r in range(s - 1):  # the instance at rank r is kept iff still alive when reached
            alive &= ~(suppress[:, r, :] & alive[:, r, None])
        keep[idx] = alive[row, col]
    return keep


def topdown_results(
    keypoints: Tensor,
    keypoint_scores: Tensor,
    box_scores: Tensor,
    image_ids: Tensor,
    areas: Tensor | None,
    sigmas: Sequence[float] | Tensor | None = None,
    keypoint_score_threshold: float = 0.2,
    nms_threshold: float | None = 0.9,
    float32_oks: bool = True,
) -> tuple[Tensor, Tensor]:
    """Rescoring then OKS-NMS: what COCO AP needs from top-down predictions on detected boxes.

    Args:
        keypoints: ``(N, K, 2+)`` predicted keypoints in image coordinates.
        keypoint_scores: ``(N, K)``; box_scores: ``(N,)``; image_ids: ``(N,)``.
        areas: ``(N,)`` OKS-NMS areas: the crop boxes' (:func:`crop_areas` of the samples' ``affine``),
            as HRNet and MMPose; None: the keypoints' extent (:func:`keypoint_areas`, bottom-up).
        sigmas: ``K`` sigmas (COCO's 17 by default).
        keypoint_score_threshold: see :func:`rescore`.
        nms_threshold, float32_oks: see :func:`oks_nms` (``None`` threshold: no NMS).

    Returns:
        ``keep (N,)`` bool and ``scores (N,)`` float64 instance scores (for every instance; evaluate
        ``keypoints[keep]`` with ``scores[keep]``).
    """
    scores = rescore(keypoint_scores, box_scores, keypoint_score_threshold)
    keep = oks_nms(keypoints, scores, image_ids, sigmas, nms_threshold, areas, float32_oks)
    return keep, scores
