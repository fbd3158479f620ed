"""`KeypointEvaluator`: the evaluation of one split, every metric of a dataset, one protocol.

It takes decoded predictions in original pixels once per batch and feeds

* the tensor metrics (``PCK``, ``NME``, ``EPE``, ``MeanOKS``) with the instances that have paired ground
  truth in the batch (``orig_keypoints``, ``orig_visibility``, ``bbox``, ``norm``, ``area``,
  ``attributes``); crops of detected boxes carry none and are left out;
* the image-level metrics (``scores_images = True``, e.g. ``KeypointAP``; the contract is in
  :mod:`lit_heatmap.metrics._base`) through the top-down protocol of HRNet/MMPose: rescoring (box score x
  mean keypoint score above ``keypoint_score_threshold``), OKS-NMS per image (``nms_threshold``, None =
  off; the area of an instance is that of the padded, aspect-fixed box its crop was taken from), then
  the metric against the ground truth of **every image of the split**, given once with
  :meth:`KeypointEvaluator.set_ground_truth` as a COCO-style dict (the dataset's
  ``ground_truth()``). People in images whose detections were all filtered out count as misses.

OKS metrics built without explicit ``sigmas`` score with the dataset's ``sigmas``. With
``keep_results=True`` the evaluator keeps, after every ``compute()``, the predictions behind the
metrics after that protocol (:attr:`KeypointEvaluator.results`): what ``lit-heatmap-eval`` writes to
``results.json``.
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

from lit_heatmap.metrics._base import TensorMetric
from lit_heatmap.metrics.functional.coco import pack_ground_truth
from lit_heatmap.metrics.functional.oks import as_sigmas
from lit_heatmap.metrics.functional.topdown import crop_areas, topdown_results

__all__ = ["KeypointEvaluator"]


class _Predictions(Metric):
    """Every prediction of the split as rows ``[x, y]*K, score*K, box score, image id, bbox x, y, w, h,
    crop area`` (float64, original pixels), gathered from all ranks by ``compute()``."""

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
        metrics: name -> torchmetrics ``Metric`` (cloned). Image-level ones (``scores_images``, e.g.
            ``KeypointAP``) are scored through the top-down protocol (module docstring); the others are
            tensor metrics.
        num_keypoints: K.
        sigmas: the dataset's K OKS sigmas, for OKS metrics built without explicit ones and OKS-NMS.
        keypoint_score_threshold: keypoint scores above it enter the instance score (MMPose: 0.2).
        nms_threshold: OKS-NMS threshold per image (HRNet/MMPose: 0.9); None turns NMS off.
        keep_results: keep the predictions of the last ``compute()`` in :attr:`results`.

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
        keep_results: bool = False,
    ) -> None:
        super().__init__()
        self.keep_results = bool(keep_results)
        #: after ``compute()`` with ``keep_results``: the split's predictions after rescoring and OKS-NMS,
        #: ``{"image_id" (N,), "keypoints" (N, K, 2), "keypoint_scores" (N, K), "score" (N,), "bbox" (N, 4)}``
        self.results: dict[str, Tensor] | None = None
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
        default = None if self.num_keypoints == 17 else [0.05] * self.num_keypoints  # None: COCO's 17
        self.register_buffer("sigmas", as_sigmas(sigmas if sigmas is not None else default), persistent=False)
        self.predictions = _Predictions()
        self._ground_truth: Tensor | None = None

    def items(self) -> list[tuple[str, Metric]]:
        """``(name, metric)`` pairs in the order given."""
        return [(n, self.metrics[self._keys[n]]) for n in self.names]

    def tensor_metrics(self) -> list[tuple[str, TensorMetric]]:
        """The tensor ``(name, metric)`` pairs, fed every batch (:class:`~lit_heatmap.metrics._base.TensorMetric`)."""
        return [(n, m) for n, m in self.items() if not getattr(m, "scores_images", False)]

    def image_metrics(self) -> list[tuple[str, Metric]]:
        """The image-level ``(name, metric)`` pairs: those whose class sets ``scores_images``."""
        return [(n, m) for n, m in self.items() if getattr(m, "scores_images", False)]

    @property
    def needs_ground_truth(self) -> bool:
        """True when an image-level metric is evaluated (it needs :meth:`set_ground_truth`)."""
        return bool(self.image_metrics())

    def set_ground_truth(self, coco: Mapping[str, Any]) -> None:
        """The split's ground truth as a COCO-style dict (see :func:`pack_ground_truth`), given once."""
        self._ground_truth = pack_ground_truth(coco, self.num_keypoints)

    def update(self, keypoints: Tensor, scores: Tensor, batch: Mapping[str, Any]) -> None:
        """One batch: ``keypoints (B, K, 2)`` in original px, ``scores (B, K)``, and the batch's keys
        ``image_id (B,)``, ``score (B,)`` (box score), ``orig_keypoints``, ``orig_visibility``, ``bbox``,
        ``affine (B, 2, 3)`` and ``image (B, C, H, W)`` (for the crop areas of OKS-NMS) and, when
        present, ``norm``, ``area``, ``attributes``."""
        kpts, scores = keypoints.detach().float(), scores.detach().float()
        n = kpts.shape[0]
        if self.needs_ground_truth or self.keep_results:
            dev = kpts.device
            box = torch.as_tensor(batch.get("score", torch.ones(n)), device=dev).double().reshape(n, 1)
            img = torch.as_tensor(batch["image_id"], device=dev).double().reshape(n, 1)
            bbox = torch.as_tensor(batch.get("bbox", torch.full((n, 4), float("nan"))), device=dev).double()
            w, h = batch["image"].shape[-1], batch["image"].shape[-2]
            area = crop_areas(batch["affine"], (w, h)).to(dev).reshape(n, 1)
            self.predictions.update(
                torch.cat([kpts.double().reshape(n, -1), scores.double(), box, img, bbox.reshape(n, 4), area], 1)
            )
        vis = batch["orig_visibility"].float()
        has_gt = vis.sum(1) > 0  # crops of detected boxes carry no ground truth
        if not bool(has_gt.any()):
            return
        sel = slice(None) if bool(has_gt.all()) else has_gt

        def pick(key: str) -> Tensor | None:
            return None if batch.get(key) is None else batch[key][sel]

        target = batch["orig_keypoints"].float()[sel]
        for _, metric in self.tensor_metrics():
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
            seen_only: score image-level metrics against the images that received predictions only (a
                partial epoch, e.g. ``limit_val_batches < 1``), instead of every image of the split.

        Raises:
            RuntimeError: an image-level metric without :meth:`set_ground_truth`.
        """
        out: dict[str, Tensor] = {}
        results = self._protocol() if self.predictions.update_count else None
        if self.keep_results:
            self.results = results
        for name, metric in self.items():
            if getattr(metric, "scores_images", False):
                if results is not None:
                    out.update(metric.score_images(results, self._checked_ground_truth(metric), seen_only))
                continue
            if not metric.update_called:
                continue
            value = metric.compute()
            if isinstance(value, Mapping):
                out.update({k: torch.as_tensor(v) for k, v in value.items()})
            else:
                out[name] = torch.as_tensor(value)
        return out

    def _protocol(self) -> dict[str, Tensor]:
        """The gathered predictions after the top-down protocol (rescoring, OKS-NMS per image with the
        crop areas)."""
        k = self.num_keypoints
        rows = self.predictions.compute().reshape(-1, 3 * k + 7).cpu()
        xy, kscore = rows[:, : 2 * k].reshape(-1, k, 2), rows[:, 2 * k : 3 * k]
        box_score, image_id, bbox = rows[:, 3 * k], rows[:, 3 * k + 1].long(), rows[:, 3 * k + 2 : 3 * k + 6]
        own = [m.sigmas for _, m in self.image_metrics() if isinstance(getattr(m, "sigmas", None), Tensor)]
        sigmas = (own[0] if own else self.sigmas).cpu()  # an image-level metric's own sigmas when it has some
        keep, score = topdown_results(
            xy,
            kscore,
            box_score,
            image_id,
            rows[:, 3 * k + 6],
            sigmas,
            self.keypoint_score_threshold,
            self.nms_threshold,
        )
        return {
            "image_id": image_id[keep],
            "keypoints": xy[keep],
            "keypoint_scores": kscore[keep],
            "score": score[keep],
            "bbox": bbox[keep],
        }

    def _checked_ground_truth(self, metric: Metric) -> Tensor:
        if self._ground_truth is None:
            raise RuntimeError(
                f"{type(metric).__name__} needs the split's ground truth: call set_ground_truth("
                "dataset.ground_truth()) (HeatmapModule.set_ground_truth(stage, ...); the CLI does it for you)"
            )
        return self._ground_truth

    def reset(self) -> None:
        """Forget the predictions (the ground truth stays)."""
        self.predictions.reset()
        for _, metric in self.items():
            metric.reset()
