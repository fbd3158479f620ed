"""Object keypoint similarity (OKS), computed exactly as pycocotools ``COCOeval.computeOks``.

All arithmetic is float64 and follows pycocotools' operation order, so that OKS values (and hence
the discrete matching decisions built on them) agree with the official evaluator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from lit_heatmap.facts import COCO_SIGMAS

#: ``np.spacing(1)``: pycocotools adds it to the GT area.
EPS = 2.220446049250313e-16


def as_sigmas(sigmas: Sequence[float] | Tensor | None) -> Tensor:
    """Per-keypoint sigmas as a float64 ``(K,)`` tensor (COCO's 17 when ``None``)."""
    if sigmas is None:
        return torch.tensor(COCO_SIGMAS, dtype=torch.float64)
    out = torch.as_tensor(sigmas, dtype=torch.float64).flatten().clone()
    if out.numel() == 0 or not bool(torch.isfinite(out).all()) or bool((out <= 0).any()):
        raise ValueError(f"sigmas must be a non-empty sequence of positive numbers, got {sigmas!r}")
    return out


def oks_matrix(
    det_xy: Tensor,
    gt_kpts: Tensor,
    gt_area: Tensor,
    gt_bbox: Tensor,
    sigmas: Tensor,
    gt_valid: Tensor | None = None,
) -> Tensor:
    """OKS between every detection and every GT instance of a batch of images.

    Args:
        det_xy: ``(..., D, K, 2)`` detected keypoints (x, y). Non-finite rows give OKS 0 (a miss).
        gt_kpts: ``(..., G, K, 3)`` GT keypoints (x, y, v); v > 0 means labelled.
        gt_area: ``(..., G)`` GT areas (COCO ``area``).
        gt_bbox: ``(..., G, 4)`` GT boxes (x, y, w, h), used for GTs without labelled keypoints.
        sigmas: ``(K,)`` float64.
        gt_valid: optional ``(..., G)`` bool, False for padding GT slots (their OKS is left unspecified).

    Returns:
        ``(..., D, G)`` float64 OKS. For a GT with labelled keypoints, the mean of
        ``exp(-d^2 / (2 (2 sigma)^2 (area + eps)))`` over its labelled keypoints; for a GT with none,
        the same over all K keypoints with ``d`` the distance to the GT box doubled in size
        (pycocotools' rule, which matters for matching detections to ignored GTs).
    """
    variances = (sigmas * 2) ** 2  # (K,)
    vis = gt_kpts[..., 2] > 0  # (..., G, K)
    k1 = vis.sum(-1)  # (..., G)
    scale = (gt_area + EPS)[..., None, :, None]  # (..., 1, G, 1)
    # GTs with labelled keypoints: distances to them (all pairs; masked by visibility)
    dx = det_xy[..., :, None, :, 0] - gt_kpts[..., None, :, :, 0]  # (..., D, G, K)
    dy = det_xy[..., :, None, :, 1] - gt_kpts[..., None, :, :, 1]
    e = dx.mul_(dx).add_(dy.mul_(dy)).div_(variances).div_(scale).mul_(0.5)
    terms = e.neg_().exp_().mul_(vis[..., None, :, :])
    oks = terms.sum(-1) / k1.clamp(min=1).to(terms.dtype)[..., None, :]  # (..., D, G)
    # GTs without labelled keypoints (usually few): distance to the GT box doubled in size
    no_kpts = torch.nonzero((k1 == 0) if gt_valid is None else (k1 == 0) & gt_valid)  # (n, ndim of (..., G))
    if no_kpts.numel():
        lead, g = tuple(no_kpts[:, :-1].T), no_kpts[:, -1]
        bb = gt_bbox[lead + (g,)]  # (n, 4)
        x0, x1 = bb[:, 0] - bb[:, 2], bb[:, 0] + bb[:, 2] * 2
        y0, y1 = bb[:, 1] - bb[:, 3], bb[:, 1] + bb[:, 3] * 2
        d = det_xy[lead] if lead else det_xy.expand(g.numel(), *det_xy.shape)  # (n, D, K, 2)
        xd, yd = d[..., 0], d[..., 1]
        zero = torch.zeros((), dtype=det_xy.dtype, device=det_xy.device)
        bx = torch.maximum(zero, x0[:, None, None] - xd) + torch.maximum(zero, xd - x1[:, None, None])
        by = torch.maximum(zero, y0[:, None, None] - yd) + torch.maximum(zero, yd - y1[:, None, None])
        area = (gt_area[lead + (g,)] + EPS)[:, None, None]
        eb = (bx**2 + by**2) / variances / area / 2
        box_oks = torch.exp(-eb).sum(-1) / sigmas.numel()  # (n, D)
        oks.movedim(-1, -2)[lead + (g,)] = box_oks  # writes through the (..., G, D) view
    det_ok = torch.isfinite(det_xy).all(-1).all(-1)[..., :, None]  # (..., D, 1)
    return torch.where(det_ok & torch.isfinite(oks), oks, torch.zeros_like(oks))


def keypoint_oks(
    preds: Tensor,
    target: Tensor,
    visibility: Tensor,
    area: Tensor,
    sigmas: Sequence[float] | Tensor | None = None,
) -> Tensor:
    """Per-instance OKS between paired predictions and GT (top-down, GT boxes).

    Args:
        preds: ``(B, K, 2)`` predicted keypoints; non-finite keypoints contribute 0 (a miss).
        target: ``(B, K, 2)`` GT keypoints.
        visibility: ``(B, K)``, > 0 = labelled.
        area: ``(B,)`` instance areas (COCO ``area``; e.g. box w*h when no segmentation area exists).
        sigmas: ``K`` sigmas (COCO's 17 by default).

    Returns:
        ``(B,)`` float64 OKS, NaN for instances without labelled keypoints.
    """
    s = as_sigmas(sigmas).to(preds.device)
    if s.numel() != preds.shape[-2]:
        raise ValueError(f"{s.numel()} sigmas given for K={preds.shape[-2]} keypoints")
    variances = (s * 2) ** 2
    d2 = ((preds.double() - target.double()) ** 2).sum(-1)  # (B, K)
    e = d2 / variances / (area.double()[:, None] + EPS) / 2
    terms = torch.exp(-e)
    vis = visibility > 0
    terms = torch.where(vis & torch.isfinite(terms), terms, torch.zeros_like(terms))
    return terms.sum(-1) / vis.sum(-1).to(torch.float64)
