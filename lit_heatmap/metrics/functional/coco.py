"""COCO keypoint AP/AR by OKS, identical to pycocotools ``COCOeval(iouType="keypoints")``.

The evaluation is vectorised over images: detections are laid out as ``(I, maxDets)`` (sorted by
score inside each image) and GTs as ``(I, G)``; the greedy matching loops only over the detection
rank (<= maxDets steps), in lockstep for every image, area range and OKS threshold.

Semantics reproduced from pycocotools (``_prepare``, ``computeOks``, ``evaluateImg``, ``accumulate``):

* GT ignore = ``iscrowd`` or no labelled keypoint (``num_keypoints == 0``); per area range, GTs whose
  area lies outside ``[lo, hi]`` are ignored too. Non-ignored GTs are matched first.
* Detections are sorted by score with a stable sort (ties keep their input order) and truncated to
  ``max_dets`` per image. A detection takes the unmatched (or crowd) GT with the highest OKS >= t;
  among equal OKS the later GT wins; once matched to a regular GT it never moves to an ignored one.
  A detection matched to an ignored GT is ignored; an unmatched detection whose area (the box of its
  keypoints) lies outside the area range is ignored.
* Accumulation: all detections sorted by score (stable; images in ascending id, then per-image
  rank), precision made monotone, sampled at 101 recall points with ``searchsorted(side="left")``;
  -1 where an area range has no non-ignored GT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lit_heatmap.metrics.functional.oks import EPS, as_sigmas, oks_matrix
from lit_heatmap.metrics.functional.shared import check_finite_ground_truth, group_rank

#: pycocotools' thresholds, built with numpy's linspace so every float64 bit agrees.
OKS_THRESHOLDS = torch.from_numpy(np.linspace(0.5, 0.95, 10))
RECALL_THRESHOLDS = torch.from_numpy(np.linspace(0.0, 1.0, 101))
AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0**2, 1e5**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e5**2),
}
KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def _field(d: dict, key: str, where: str) -> Any:
    if key not in d:
        raise ValueError(f"{where} has no {key!r} key (keys: {sorted(d)})")
    return d[key]


def pack_detections(preds: Sequence[dict], k: int, device: torch.device | None = None) -> Tensor:
    """Per-image prediction dicts -> ``(N, 2K+2)`` float64 rows ``[x, y]*K, score, image_id``."""
    rows = []
    for i, p in enumerate(preds):
        where = f"preds[{i}]"
        kp = torch.as_tensor(_field(p, "keypoints", where), dtype=torch.float64, device=device)
        if kp.numel() == 0:
            continue
        if kp.ndim == 2:
            kp = kp[None]
        if kp.ndim != 3 or kp.shape[-1] not in (2, 3) or kp.shape[1] != k:
            raise ValueError(f"{where}['keypoints'] must be (N, K={k}, 3), got {tuple(kp.shape)}")
        n = kp.shape[0]
        sc = torch.as_tensor(_field(p, "scores", where), dtype=torch.float64, device=kp.device).reshape(-1)
        if sc.numel() != n:
            raise ValueError(f"{where}['scores'] has {sc.numel()} values for {n} instances")
        img = torch.as_tensor(_field(p, "image_id", where), dtype=torch.float64, device=kp.device).reshape(-1)
        img = img.expand(n) if img.numel() == 1 else img
        if img.numel() != n:
            raise ValueError(f"{where}['image_id'] must be a scalar or ({n},)")
        rows.append(torch.cat([kp[..., :2].reshape(n, 2 * k), sc[:, None], img[:, None]], 1))
    return torch.cat(rows) if rows else torch.zeros(0, 2 * k + 2, dtype=torch.float64, device=device)


def _target_rows(t: Mapping[str, Any], k: int, where: str, device: torch.device | None) -> Tensor:
    """One target dict (an image's instances, or one COCO annotation with flat ``[x, y, v]*K``
    keypoints) -> validated ``(M, 3K+7)`` rows; ``ValueError`` naming ``where``."""
    kp = torch.as_tensor(_field(t, "keypoints", where), dtype=torch.float64, device=device)
    if kp.ndim == 1 and kp.numel() == 3 * k:
        kp = kp.reshape(k, 3)
    if kp.ndim == 2:
        kp = kp[None]
    if kp.ndim != 3 or kp.shape[-1] != 3 or kp.shape[1] != k:
        raise ValueError(f"{where}['keypoints'] must be (M, K={k}, 3) with (x, y, v), got {tuple(kp.shape)}")
    m = kp.shape[0]
    check_finite_ground_truth(kp[..., :2], kp[..., 2], where)
    box = torch.as_tensor(_field(t, "bbox", where), dtype=torch.float64, device=kp.device).reshape(-1, 4)
    area, crowd = t.get("area"), t.get("iscrowd")
    area = box[:, 2] * box[:, 3] if area is None else torch.as_tensor(area, dtype=torch.float64, device=kp.device)
    crowd = torch.zeros(m) if crowd is None else crowd
    crowd = torch.as_tensor(crowd, dtype=torch.float64, device=kp.device).reshape(-1)
    img = torch.as_tensor(_field(t, "image_id", where), dtype=torch.float64, device=kp.device).reshape(-1)
    area = area.reshape(-1)
    img = img.expand(m) if img.numel() == 1 else img
    if not (box.shape[0] == area.numel() == crowd.numel() == img.numel() == m):
        raise ValueError(f"{where}: bbox/area/iscrowd/image_id lengths do not match {m} instances")
    row = torch.cat([kp.reshape(m, 3 * k), box, area[:, None], crowd[:, None], img[:, None]], 1)
    if not bool(torch.isfinite(row).all()):
        raise ValueError(f"{where} contains non-finite ground truth values (keypoints, bbox or area)")
    return row


def pack_targets(targets: Sequence[Mapping[str, Any]], k: int, device: torch.device | None = None) -> Tensor:
    """Per-image target dicts -> ``(M, 3K+7)`` float64 rows ``[x, y, v]*K, bbox(4), area, iscrowd, image_id``.

    A dict holds ``image_id``, ``keypoints`` ``(M, K, 3)`` (or one instance: ``(K, 3)`` or flat
    ``[x, y, v]*K``), ``bbox`` ``(M, 4)`` xywh and optionally ``area`` (default: the box ``w*h``) and
    ``iscrowd`` (default 0); empty ``keypoints`` (an image without instances) add no row. Errors name
    the dict (``targets[i]``).

    Raises:
        ValueError: a missing key, a wrong shape or a non-finite value.
    """
    rows = [
        _target_rows(t, k, f"targets[{i}]", device)
        for i, t in enumerate(targets)
        if torch.as_tensor(_field(t, "keypoints", f"targets[{i}]")).numel()
    ]
    return torch.cat(rows) if rows else torch.zeros(0, 3 * k + 7, dtype=torch.float64, device=device)


def pack_ground_truth(coco: Mapping[str, Any], k: int) -> Tensor:
    """A COCO-style dict's ``annotations`` (``image_id``, ``keypoints`` ``[x, y, v]*K``, ``bbox``,
    optional ``area`` and ``iscrowd``) -> the rows of :func:`pack_targets`, one per annotation.

    Raises:
        ValueError: an annotation with a wrong number of keypoint values or a non-finite value, naming
            its id and image.
    """
    rows = [
        _target_rows(a, k, f"ground truth annotation id {a.get('id', f'#{n}')} (image {a.get('image_id')})", None)
        for n, a in enumerate(coco.get("annotations", []))
    ]  # every annotation, an empty one included, is checked: a broken annotation is never skipped
    return torch.cat(rows) if rows else torch.zeros(0, 3 * k + 7, dtype=torch.float64)


def coco_keypoint_eval(
    det_image_ids: Tensor,
    det_scores: Tensor,
    det_keypoints: Tensor,
    gt_image_ids: Tensor,
    gt_keypoints: Tensor,
    gt_area: Tensor,
    gt_bbox: Tensor,
    gt_iscrowd: Tensor,
    sigmas: Sequence[float] | Tensor | None = None,
    max_dets: int = 20,
    chunk_images: int = 2048,
) -> dict[str, Tensor]:
    """COCO keypoint AP/AR over flat lists of detections and GT instances.

    Args:
        det_image_ids: ``(N,)`` image id of each detection.
        det_scores: ``(N,)`` instance scores (NaN is treated as -inf).
        det_keypoints: ``(N, K, 2+)`` detected keypoints (x, y[, score]); only x, y are used.
        gt_image_ids: ``(M,)`` image id of each GT instance.
        gt_keypoints: ``(M, K, 3)`` GT keypoints (x, y, v).
        gt_area: ``(M,)``; gt_bbox: ``(M, 4)`` xywh; gt_iscrowd: ``(M,)``.
        sigmas: K per-keypoint sigmas (COCO's 17 by default).
        max_dets: detections kept per image (highest scores), COCO uses 20.
        chunk_images: images per OKS block (bounds memory).

    Images are the union of the ids seen in detections and GT: detections on an image without GT
    are false positives, as in pycocotools for an image listed in ``imgIds`` without annotations.

    Returns:
        dict with the 10 numbers of ``COCOeval.summarize()`` (:data:`KEYS`, float64 scalars) plus
        ``precision`` ``(A=3, T=10, R=101)`` and ``recall`` ``(A, T)`` (-1 where undefined).
    """
    device = det_keypoints.device
    f64 = torch.float64
    sig = as_sigmas(sigmas).to(device)
    k = sig.numel()
    if det_keypoints.shape[-2] != k or gt_keypoints.shape[-2] != k:
        raise ValueError(
            f"keypoint count mismatch: sigmas have K={k}, detections K={det_keypoints.shape[-2]}, "
            f"GT K={gt_keypoints.shape[-2]}"
        )
    det_xy = det_keypoints[..., :2].to(f64).reshape(-1, k, 2)
    scores = det_scores.to(f64).reshape(-1)
    scores = torch.where(torch.isnan(scores), torch.full_like(scores, -float("inf")), scores)
    gkp = gt_keypoints.to(f64).reshape(-1, k, 3)
    garea, gbox = gt_area.to(f64).reshape(-1), gt_bbox.to(f64).reshape(-1, 4)
    gcrowd = gt_iscrowd.reshape(-1).to(device) > 0
    dimg, gimg = det_image_ids.reshape(-1).long().to(device), gt_image_ids.reshape(-1).long().to(device)

    # ---- image index and per-image layouts -----------------------------------------------------
    _, inv = torch.unique(torch.cat([dimg, gimg]), sorted=True, return_inverse=True)
    n_img = int(inv.max()) + 1 if inv.numel() else 0
    di, gi = inv[: dimg.numel()], inv[dimg.numel() :]
    # detections: by image, then score descending (stable: ties keep input order)
    o1 = torch.sort(-scores, stable=True).indices
    o2 = torch.sort(di[o1], stable=True).indices
    dord = o1[o2]
    drank = group_rank(di[dord])
    keep = drank < max_dets
    dord, drank = dord[keep], drank[keep]
    d_slot_img, d_slot = di[dord], drank
    gord = torch.sort(gi, stable=True).indices
    grank = group_rank(gi[gord])
    g_max = int(grank.max()) + 1 if grank.numel() else 0
    g_max = max(g_max, 1)

    dmask = torch.zeros(n_img, max_dets, dtype=torch.bool, device=device)
    dmask[d_slot_img, d_slot] = True
    dxy = torch.zeros(n_img, max_dets, k, 2, dtype=f64, device=device)
    dxy[d_slot_img, d_slot] = det_xy[dord]
    dscore = torch.zeros(n_img, max_dets, dtype=f64, device=device)
    dscore[d_slot_img, d_slot] = scores[dord]
    gmask = torch.zeros(n_img, g_max, dtype=torch.bool, device=device)
    gmask[gi[gord], grank] = True
    gk = torch.zeros(n_img, g_max, k, 3, dtype=f64, device=device)
    gk[gi[gord], grank] = gkp[gord]
    ga = torch.zeros(n_img, g_max, dtype=f64, device=device)
    ga[gi[gord], grank] = garea[gord]
    gb = torch.zeros(n_img, g_max, 4, dtype=f64, device=device)
    gb[gi[gord], grank] = gbox[gord]
    gc = torch.zeros(n_img, g_max, dtype=torch.bool, device=device)
    gc[gi[gord], grank] = gcrowd[gord]

    # ---- OKS (I, D, G), chunked over images --------------------------------------------------------
    oks = torch.zeros(n_img, max_dets, g_max, dtype=f64, device=device)
    for s in range(0, n_img, chunk_images):
        e = min(s + chunk_images, n_img)
        oks[s:e] = oks_matrix(dxy[s:e], gk[s:e], ga[s:e], gb[s:e], sig, gmask[s:e])

    # detection area: box of all its keypoints (pycocotools loadRes)
    x, y = dxy[..., 0], dxy[..., 1]
    darea = (x.amax(-1) - x.amin(-1)) * (y.amax(-1) - y.amin(-1))  # (I, D); NaN stays NaN

    # ---- ignore flags per area range -------------------------------------------------------------
    lo = torch.tensor([r[0] for r in AREA_RANGES.values()], dtype=f64, device=device)
    hi = torch.tensor([r[1] for r in AREA_RANGES.values()], dtype=f64, device=device)
    n_area = lo.numel()
    base_ignore = gc | ((gk[..., 2] > 0).sum(-1) == 0)  # (I, G)
    out_rng = (ga[None] < lo[:, None, None]) | (ga[None] > hi[:, None, None])  # (A, I, G)
    g_ig = (base_ignore[None] | out_rng) & gmask[None]  # (A, I, G)
    g_reg = ~g_ig & gmask[None]
    d_out = (darea[None] < lo[:, None, None]) | (darea[None] > hi[:, None, None])  # (A, I, D)

    # ---- greedy matching, one detection rank at a time -------------------------------------------
    thr = OKS_THRESHOLDS.to(device).clamp(max=1 - 1e-10)
    n_thr = thr.numel()
    shape = (n_area, n_thr, n_img, g_max)
    matched = torch.zeros(shape, dtype=torch.bool, device=device)
    dtm = torch.zeros(n_area, n_thr, n_img, max_dets, dtype=torch.bool, device=device)
    dt_ig = torch.zeros_like(dtm)
    reg4 = g_reg[:, None].expand(shape)
    ig4 = g_ig[:, None].expand(shape)
    crowd4 = gc[None, None].expand(shape)
    rank_key = torch.arange(1, g_max + 1, device=device)  # argmax of key*mask = last True index
    for r in range(max_dets):
        if not bool(dmask[:, r].any()):
            break
        o = oks[:, r, :][None, None]  # (1, 1, I, G)
        cand = (~matched | crowd4) & (o >= thr[:, None, None])
        # regular GTs take precedence; only without a regular candidate may an ignored GT match
        has_reg = (cand & reg4).any(-1)
        cand &= torch.where(has_reg[..., None], reg4, ig4)
        val = torch.where(cand, o, -1.0)
        is_best = cand & (val == val.amax(-1, keepdim=True))
        m = (is_best * rank_key).argmax(-1)  # the last GT among equal OKS, as pycocotools
        has = cand.any(-1) & dmask[:, r][None, None]
        dtm[..., r] = has
        dt_ig[..., r] = has & ~has_reg
        matched.scatter_(-1, m[..., None], matched.gather(-1, m[..., None]) | has[..., None])
    dt_ig |= ~dtm & d_out[:, None]

    # ---- accumulate ----------------------------------------------------------------------------
    flat_valid = dmask.reshape(-1)
    sc = dscore.reshape(-1)[flat_valid]
    order = torch.sort(-sc, stable=True).indices
    tps = (dtm & ~dt_ig).reshape(n_area, n_thr, -1)[..., flat_valid][..., order]
    fps = (~dtm & ~dt_ig).reshape(n_area, n_thr, -1)[..., flat_valid][..., order]
    npig = g_reg.reshape(n_area, -1).sum(-1)  # (A,)
    rec_thr = RECALL_THRESHOLDS.to(device)
    n_rec = rec_thr.numel()
    precision = torch.full((n_area, n_thr, n_rec), -1.0, dtype=f64, device=device)
    recall = torch.full((n_area, n_thr), -1.0, dtype=f64, device=device)
    nd = int(order.numel())
    for a in range(n_area):
        n_pos = int(npig[a])
        if n_pos == 0:
            continue
        if nd == 0:
            precision[a] = 0.0
            recall[a] = 0.0
            continue
        tp = torch.cumsum(tps[a].to(f64), -1)
        fp = torch.cumsum(fps[a].to(f64), -1)
        rc = tp / n_pos
        pr = tp / (fp + tp + EPS)
        pr = torch.cummax(pr.flip(-1), -1).values.flip(-1)  # precision envelope
        idx = torch.searchsorted(rc.contiguous(), rec_thr[None].expand(n_thr, n_rec).contiguous(), side="left")
        q = torch.gather(pr, -1, idx.clamp(max=nd - 1))
        precision[a] = torch.where(idx < nd, q, torch.zeros_like(q))
        recall[a] = rc[:, -1]
    return summarize(precision, recall)


def eval_packed(
    det: Tensor,
    gt: Tensor,
    k: int,
    sigmas: Sequence[float] | Tensor | None = None,
    max_dets: int = 20,
    seen_only: bool = False,
) -> dict[str, Tensor]:
    """:func:`coco_keypoint_eval` of the packed rows of :func:`pack_detections` ``det (N, 2K+2)`` and
    :func:`pack_targets` ``gt (M, 3K+7)``; ``seen_only``: only the ground truth of images with a
    detection (a partial epoch), instead of every image's."""
    if seen_only:
        gt = gt[torch.isin(gt[:, -1], det[:, -1])]
    return coco_keypoint_eval(
        det[:, -1],
        det[:, -2],
        det[:, : 2 * k].reshape(-1, k, 2),
        gt[:, -1],
        gt[:, : 3 * k].reshape(-1, k, 3),
        gt[:, 3 * k + 4],
        gt[:, 3 * k : 3 * k + 4],
        gt[:, 3 * k + 5],
        sigmas=sigmas,
        max_dets=max_dets,
    )


def summarize(precision: Tensor, recall: Tensor) -> dict[str, Tensor]:
    """The 10 numbers of ``COCOeval.summarize()`` for keypoints from ``precision (A, T, R)`` and
    ``recall (A, T)`` (area ranges all/medium/large; T index 0 = OKS .50, 5 = OKS .75)."""

    def mean(s: Tensor) -> Tensor:
        s = s[s > -1]
        return s.mean() if s.numel() else torch.tensor(-1.0, dtype=torch.float64, device=precision.device)

    out = {
        "AP": mean(precision[0]),
        "AP50": mean(precision[0, 0]),
        "AP75": mean(precision[0, 5]),
        "APm": mean(precision[1]),
        "APl": mean(precision[2]),
        "AR": mean(recall[0]),
        "AR50": mean(recall[0, 0]),
        "AR75": mean(recall[0, 5]),
        "ARm": mean(recall[1]),
        "ARl": mean(recall[2]),
    }
    out["precision"] = precision
    out["recall"] = recall
    return out


def keypoint_ap(
    preds: Sequence[dict],
    targets: Sequence[dict],
    sigmas: Sequence[float] | Tensor | None = None,
    max_dets: int = 20,
) -> dict[str, Tensor]:
    """Functional twin of :class:`lit_heatmap.metrics.KeypointAP` on lists of per-image dicts.

    preds: ``{"image_id", "keypoints" (N, K, 3), "scores" (N,)}``;
    targets: ``{"image_id", "keypoints" (M, K, 3), "area" (M,), "bbox" (M, 4), "iscrowd" (M,)}``.
    Returns the dict of :func:`coco_keypoint_eval`.
    """
    k = as_sigmas(sigmas).numel()
    det = pack_detections(preds, k)
    gt = pack_targets(targets, k)
    return eval_packed(det, gt, k, sigmas, max_dets)
