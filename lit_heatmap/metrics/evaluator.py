"""`KeypointEvaluator`: the evaluation of one split, every metric of a dataset, one protocol.

It takes decoded predictions in original pixels once per batch and feeds

* the tensor metrics (``PCK``, ``NME``, ``EPE``, ``MeanOKS``) with the instances that have paired ground
  truth in the batch (``orig_keypoints``, ``orig_visibility``, ``bbox``, ``norm``, ``area``,
  ``attributes``); crops of detected boxes carry none and are left out;
* ``KeypointAP`` through the top-down protocol of HRNet/MMPose: rescoring (box score x mean keypoint
  score above ``keypoint_score_threshold``), OKS-NMS per image (``nms_threshold``, None = off), then
  COCO AP against the ground truth of **every image of the split**, given once with
  :meth:`KeypointEvaluator.set_ground_truth` as a COCO-style dict (the dataset's
  ``ground_truth()``). People in images whose detections were all filtered out count as misses.

OKS metrics built without explicit ``sigmas`` score with the dataset's ``sigmas``.
DDP: predictions are gathered from every rank before the protocol runs (a ``cat`` state), the
ground truth is the same on every rank; tensor metrics sync themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lit_heatmap.metrics.coco import KeypointAP
from lit_heatmap.metrics.functional.coco import coco_keypoint_eval
from lit_heatmap.metrics.functional.topdown import oks_nms, rescore

__all__ = ["KeypointEvaluator", "pack_ground_truth"]


def pack_ground_truth(coco: Mapping[str, Any], num_keypoints: int) -> dict[str, Tensor]:
    """A COCO-style dict ``{"images": [{"id"}...], "annotations": [{"image_id", "keypoints" [x, y, v]*K,
    "bbox" [x, y, w, h], "area", "iscrowd", "id"}...]}`` -> tensors: ``image_ids (I,)`` of every image,
    ``ann_image_ids (M,)``, ``keypoints (M, K, 3)``, ``area (M,)``, ``bbox (M, 4)``, ``iscrowd (M,)``
    (float64; a missing ``area`` is the box area, a missing ``iscrowd`` 0).

    Raises:
        ValueError: an annotation with a wrong number of keypoint values or a non-finite value,
            naming its id.
    """
    k = int(num_keypoints)
    anns = list(coco.get("annotations", []))
    kps, boxes, area, crowd, img = [], [], [], [], []
    for n, a in enumerate(anns):
        where = f"ground truth annotation id {a.get('id', f'#{n}')} (image {a.get('image_id')})"
        flat = torch.as_tensor(a["keypoints"], dtype=torch.float64).reshape(-1)
        if flat.numel() != 3 * k:
            raise ValueError(f"{where}: {flat.numel()} keypoint values, expected 3 x {k}")
        box = torch.as_tensor(a["bbox"], dtype=torch.float64).reshape(4)
        ar = float(a["area"]) if a.get("area") is not None else float(box[2] * box[3])
        if not (torch.isfinite(flat).all() and torch.isfinite(box).all() and ar == ar):
            raise ValueError(f"{where}: non-finite keypoints, bbox or area")
        kps.append(flat.reshape(k, 3))
        boxes.append(box)
        area.append(ar)
        crowd.append(float(a.get("iscrowd", 0) or 0))
        img.append(int(a["image_id"]))
    ids = sorted({int(i["id"]) for i in coco.get("images", [])} | set(img))
    f64 = torch.float64
    return {
        "image_ids": torch.tensor(ids, dtype=torch.long),
        "ann_image_ids": torch.tensor(img, dtype=torch.long),
        "keypoints": torch.stack(kps) if kps else torch.zeros(0, k, 3, dtype=f64),
        "area": torch.tensor(area, dtype=f64),
        "bbox": torch.stack(boxes) if boxes else torch.zeros(0, 4, dtype=f64),
        "iscrowd": torch.tensor(crowd, dtype=f64),
    }


class _Predictions(Metric):
    """Every prediction of the split as rows ``[x, y]*K, score*K, box score, image id`` (float64),
    gathered from all ranks by ``compute()``."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("rows", default=[], dist_reduce_fx="cat")

    def update(self, rows: Tensor) -> None:  # type: ignore[override]
        self.rows.append(rows)

    def compute(self) -> Tensor:
        rows = self.rows
        return dim_zero_cat(rows) if isinstance(rows, Tensor) or len(rows) else torch.zeros(0, dtype=torch.float64)


class KeypointEvaluator(nn.Module):
    """The metrics of one split (val or test) behind one ``update`` / ``compute`` / ``reset``.

    Args:
        metrics: name -> torchmetrics ``Metric`` (cloned). ``KeypointAP`` entries are computed through
            the top-down protocol (module docstring); the others are tensor metrics.
        num_keypoints: K.
        sigmas: the dataset's K OKS sigmas, for OKS metrics built without explicit ones and OKS-NMS.
        keypoint_score_threshold: keypoint scores above it enter the instance score (MMPose: 0.2).
        nms_threshold: OKS-NMS threshold per image (HRNet/MMPose: 0.9); None turns NMS off.

    ``compute()`` returns ``{name: value}`` for scalar metrics and the keys of dict metrics
    (``AP``, ``AP50``, ... for ``KeypointAP``; ``NME``, ``FR@0.1``, ... for ``NME``).
    """

    def __init__(
        self,
        metrics: Mapping[str, Metric] | None,
        num_keypoints: int,
        sigmas: Sequence[float] | None = None,
        keypoint_score_threshold: float = 0.2,
        nms_threshold: float | None = 0.9,
    ) -> None:
        super().__init__()
        self.num_keypoints = int(num_keypoints)
        self.keypoint_score_threshold = float(keypoint_score_threshold)
        self.nms_threshold = None if nms_threshold is None else float(nms_threshold)
        self.names = list(metrics or {})
        self._keys = {n: f"m{i}_" + "".join(c if c.isalnum() else "_" for c in n) for i, n in enumerate(self.names)}
        self.metrics = nn.ModuleDict({self._keys[n]: m.clone() for n, m in (metrics or {}).items()})
        for name, metric in self.items():
            if hasattr(metric, "use_dataset_sigmas") and sigmas is not None:
                metric.use_dataset_sigmas(sigmas)
            own = getattr(metric, "sigmas", None)
            if isinstance(own, Tensor) and own.numel() != self.num_keypoints:
                raise ValueError(
                    f"metric {name!r} ({type(metric).__name__}) has {own.numel()} OKS sigmas but the dataset has "
                    f"{self.num_keypoints} keypoints; give the dataset's sigmas (dataset.sigmas=) or build the metric "
                    "with matching sigmas"
                )
        self.predictions = _Predictions()
        self._ground_truth: dict[str, Tensor] | None = None

    def items(self) -> list[tuple[str, Metric]]:
        """``(name, metric)`` pairs in the order given."""
        return [(n, self.metrics[self._keys[n]]) for n in self.names]

    @property
    def needs_ground_truth(self) -> bool:
        """True when a ``KeypointAP`` is evaluated (it needs :meth:`set_ground_truth`)."""
        return any(isinstance(m, KeypointAP) for _, m in self.items())

    def set_ground_truth(self, coco: Mapping[str, Any]) -> None:
        """The split's ground truth as a COCO-style dict (see :func:`pack_ground_truth`), given once."""
        self._ground_truth = pack_ground_truth(coco, self.num_keypoints)

    def update(self, keypoints: Tensor, scores: Tensor, batch: Mapping[str, Any]) -> None:
        """One batch: ``keypoints (B, K, 2)`` in original px, ``scores (B, K)``, and the batch's keys
        ``image_id (B,)``, ``score (B,)`` (box score), ``orig_keypoints``, ``orig_visibility``, ``bbox``
        and, when present, ``norm``, ``area``, ``attributes``."""
        kpts, scores = keypoints.detach().float(), scores.detach().float()
        n = kpts.shape[0]
        if self.needs_ground_truth:
            box = torch.as_tensor(batch.get("score", torch.ones(n)), device=kpts.device).double().reshape(n, 1)
            img = torch.as_tensor(batch["image_id"], device=kpts.device).double().reshape(n, 1)
            self.predictions.update(torch.cat([kpts.double().reshape(n, -1), scores.double(), box, img], 1))
        vis = batch["orig_visibility"].float()
        has_gt = vis.sum(1) > 0  # crops of detected boxes carry no ground truth
        if not bool(has_gt.any()):
            return
        sel = slice(None) if bool(has_gt.all()) else has_gt

        def pick(key: str) -> Tensor | None:
            return None if batch.get(key) is None else batch[key][sel]

        target = batch["orig_keypoints"].float()[sel]
        for _, metric in self.items():
            if not isinstance(metric, KeypointAP):
                metric.update(
                    kpts[sel],
                    target,
                    vis[sel],
                    bbox=pick("bbox"),
                    norm=pick("norm"),
                    area=pick("area"),
                    subsets=pick("attributes"),
                )

    def compute(self, seen_only: bool = False) -> dict[str, Tensor]:
        """Every metric's value (metrics without updates are left out).

        Args:
            seen_only: score AP against the images that received predictions only (a partial epoch,
                e.g. ``limit_val_batches < 1``), instead of every image of the split.

        Raises:
            RuntimeError: a ``KeypointAP`` without :meth:`set_ground_truth`.
        """
        out: dict[str, Tensor] = {}
        for name, metric in self.items():
            if isinstance(metric, KeypointAP):
                if self.predictions.update_count:
                    out.update(self._average_precision(metric, seen_only))
                continue
            if not metric.update_called:
                continue
            value = metric.compute()
            if isinstance(value, Mapping):
                out.update({k: torch.as_tensor(v) for k, v in value.items()})
            else:
                out[name] = torch.as_tensor(value)
        return out

    def _average_precision(self, metric: KeypointAP, seen_only: bool) -> dict[str, Tensor]:
        gt = self._ground_truth
        if gt is None:
            raise RuntimeError(
                "KeypointAP needs the split's ground truth: call set_ground_truth(dataset.ground_truth()) "
                "(HeatmapModule.set_ground_truth(stage, ...); the CLI does it for you)"
            )
        k = self.num_keypoints
        rows = self.predictions.compute().reshape(-1, 3 * k + 2).cpu()
        xy, kscore = rows[:, : 2 * k].reshape(-1, k, 2), rows[:, 2 * k : 3 * k]
        box_score, image_id = rows[:, 3 * k], rows[:, 3 * k + 1].long()
        score = rescore(kscore, box_score, self.keypoint_score_threshold)
        sigmas = metric.sigmas.cpu()
        keep = oks_nms(xy, score, image_id, sigmas, self.nms_threshold)
        ann = torch.isin(gt["ann_image_ids"], image_id) if seen_only else slice(None)
        res = coco_keypoint_eval(
            image_id[keep],
            score[keep],
            xy[keep],
            gt["ann_image_ids"][ann],
            gt["keypoints"][ann],
            gt["area"][ann],
            gt["bbox"][ann],
            gt["iscrowd"][ann],
            sigmas=sigmas,
            max_dets=metric.max_dets,
        )
        return {key: res[key] for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")}

    def reset(self) -> None:
        """Forget the predictions (the ground truth stays)."""
        self.predictions.reset()
        for _, metric in self.items():
            metric.reset()
