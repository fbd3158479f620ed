"""COCO keypoint AP/AR (:class:`KeypointAP`) and a cheap per-instance OKS (:class:`MeanOKS`).

DDP: every state is a ``cat``-reduced list (or a ``sum``-reduced counter), so detections and GT
instances of one image may arrive in any update, on any rank: images are grouped by ``image_id``
only in ``compute()``, after all ranks' states are gathered. This is what top-down evaluation needs
(one sample = one instance, so one image's persons are spread over batches and ranks). Assumptions:

* every GT instance and every detection is fed exactly once over all ranks (a ``DistributedSampler``
  that pads the last batch by repeating samples duplicates them, as in every DDP evaluation; use a
  validation set divisible by the world size, or Lightning's ``use_distributed_sampler=False`` with an
  unpadded sampler, for official numbers);
* detections with equal scores in one image keep their arrival order (rank 0's first after syncing),
  which is what pycocotools does with the order of the result list.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lit_heatmap.metrics._base import KeypointMetric
from lit_heatmap.metrics.functional.coco import KEYS, eval_packed, pack_detections, pack_targets
from lit_heatmap.metrics.functional.oks import as_sigmas, keypoint_oks


class _DatasetSigmas:
    """OKS metrics take the dataset's sigmas unless they were built with explicit ones."""

    sigmas: Tensor
    explicit_sigmas: bool

    def use_dataset_sigmas(self, sigmas: Sequence[float] | Tensor) -> None:
        """Score with the dataset's K sigmas, unless this metric was built with ``sigmas=``."""
        if self.explicit_sigmas:
            return
        self.sigmas = as_sigmas(sigmas).to(self.sigmas.device)
        self.num_keypoints = int(self.sigmas.numel())


class KeypointAP(_DatasetSigmas, Metric):
    """COCO keypoint AP/AR by OKS, identical to pycocotools ``COCOeval(iouType="keypoints")``.

    Args:
        sigmas: per-keypoint OKS sigmas, K values (COCO's 17 by default).
        max_dets: detections kept per image (COCO: 20).

    ``update(preds, targets)`` takes lists of per-image dicts (see docs/architecture.md):
    preds ``{"image_id", "keypoints" (N, K, 3), "scores" (N,)}`` and targets
    ``{"image_id", "keypoints" (M, K, 3), "area" (M,), "bbox" (M, 4), "iscrowd" (M,)}``.
    An image may appear in several updates (its instances are merged by ``image_id``); detections on
    an image without GT are false positives. Detections with non-finite keypoints get OKS 0 (misses,
    i.e. false positives), NaN scores rank last; both are counted in ``num_nonfinite`` and warned.

    ``compute()`` returns ``{"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}``
    (float64 scalars; -1 where COCO gives -1, e.g. no medium GT).

    An image-level metric (:attr:`scores_images`): :class:`~lit_heatmap.metrics.KeypointEvaluator`
    scores it with :meth:`score_images` on a split's predictions after the top-down protocol.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    #: scored per split by :meth:`score_images` (see :mod:`lit_heatmap.metrics._base`)
    scores_images: ClassVar[bool] = True

    def __init__(self, sigmas: Sequence[float] | None = None, max_dets: int = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_buffer("sigmas", as_sigmas(sigmas), persistent=False)
        self.num_keypoints = int(self.sigmas.numel())
        self.explicit_sigmas = sigmas is not None
        self.max_dets = int(max_dets)
        self.add_state("detections", default=[], dist_reduce_fx="cat")
        self.add_state("groundtruths", default=[], dist_reduce_fx="cat")
        self.add_state("num_nonfinite", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Sequence[dict], targets: Sequence[dict]) -> None:  # type: ignore[override]
        """Add per-image prediction and target dicts (lists; either may be empty)."""
        if isinstance(preds, dict) or isinstance(targets, dict):
            raise TypeError("KeypointAP.update expects lists of per-image dicts, got a dict")
        k = self.num_keypoints
        det = pack_detections(preds, k, self.device)
        gt = pack_targets(targets, k, self.device)
        bad = ~torch.isfinite(det[:, : 2 * k + 1]).all(1)
        self.num_nonfinite = self.num_nonfinite + bad.sum()
        self.detections.append(det)
        self.groundtruths.append(gt)

    def compute(self) -> dict[str, Tensor]:
        """The 10 COCO keypoint numbers, see the class docstring."""
        k = self.num_keypoints
        det = dim_zero_cat(self.detections) if len(self.detections) else torch.zeros(0)
        gt = dim_zero_cat(self.groundtruths) if len(self.groundtruths) else torch.zeros(0)
        det = det.reshape(-1, 2 * k + 2).to(torch.float64)
        gt = gt.reshape(-1, 3 * k + 7).to(torch.float64)
        if not self.update_called:
            raise RuntimeError(f"{type(self).__name__}.compute() called before update()")
        if det.shape[0] == 0 and gt.shape[0] == 0:
            raise RuntimeError(
                f"{type(self).__name__}: nothing to score: the {self.update_count} update(s) held no predictions "
                "and no ground truth"
            )
        if int(self.num_nonfinite) > 0:
            warnings.warn(
                f"KeypointAP: {int(self.num_nonfinite)} detection(s) with non-finite keypoints or score "
                "were counted as misses (OKS 0 / lowest rank)",
                RuntimeWarning,
                stacklevel=2,
            )
        return self._summary(det, gt)

    def score_images(
        self, results: Mapping[str, Tensor], ground_truth: Tensor, seen_only: bool = False
    ) -> dict[str, Tensor]:
        """The numbers of ``compute()`` for a split, without touching the states.

        Args:
            results: the split's predictions after the top-down protocol: ``image_id (N,)``,
                ``keypoints (N, K, 2)``, ``score (N,)`` (other keys are ignored).
            ground_truth: ``(M, 3K+7)`` rows of :func:`~lit_heatmap.metrics.functional.coco.pack_ground_truth`
                (every image of the split).
            seen_only: score the images that received predictions only.
        """
        det = pack_detections(
            [{"image_id": results["image_id"], "keypoints": results["keypoints"], "scores": results["score"]}],
            self.num_keypoints,
        )
        return self._summary(det, ground_truth.to(det.device), seen_only)

    def _summary(self, det: Tensor, gt: Tensor, seen_only: bool = False) -> dict[str, Tensor]:
        res = eval_packed(det, gt, self.num_keypoints, self.sigmas, self.max_dets, seen_only)
        return {key: res[key] for key in KEYS}


class MeanOKS(_DatasetSigmas, KeypointMetric):
    """Mean per-instance OKS between paired predictions and GT (top-down validation with GT boxes).

    Cheap alternative to :class:`KeypointAP` during training: no matching, one OKS per instance.
    Instances without labelled keypoints are excluded. Non-finite predicted keypoints score 0 for
    that keypoint (a miss), are counted in ``num_nonfinite`` and warned about (the shared base).

    ``update(preds (B,K,2), target (B,K,2), visibility (B,K), *, area=None (B,), bbox=None (B,4), ...)``:
    the OKS scale is ``area``, or the box ``w*h`` when ``area`` is None.
    ``compute()`` returns a float64 scalar tensor.
    """

    higher_is_better = True

    def __init__(self, sigmas: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_buffer("sigmas", as_sigmas(sigmas), persistent=False)
        self.explicit_sigmas = sigmas is not None
        self.add_state("oks_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        """OKS of a batch; ``norm`` and ``subsets`` are unused."""
        if preds.shape[1] != self.sigmas.numel():
            raise ValueError(f"MeanOKS has {self.sigmas.numel()} sigmas but preds have K={preds.shape[1]}")
        area, bbox = kw["area"], kw["bbox"]
        if area is None:
            if bbox is None:
                raise ValueError("MeanOKS.update needs `area` (B,) or `bbox` (B, 4) for the OKS scale")
            area = bbox[:, 2].double() * bbox[:, 3].double()
        vals = keypoint_oks(preds, target, visibility, area.reshape(-1), self.sigmas)
        ok = ~torch.isnan(vals)
        self.oks_sum = self.oks_sum + vals[ok].sum()
        self.count = self.count + ok.sum()

    def compute(self) -> Tensor:
        self._check_computable()
        return self.oks_sum / self.count
