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
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lit_heatmap.metrics.functional.coco import (
    eval_packed,
    pack_detections,
    pack_targets,
)
from lit_heatmap.metrics.functional.oks import as_sigmas, keypoint_oks
from lit_heatmap.metrics.functional.shared import check_keypoint_inputs


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
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

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
        if det.shape[0] == 0 and gt.shape[0] == 0:
            raise RuntimeError(
                f"{type(self).__name__}.compute() called before update() (no predictions and no targets)"
            )
        if int(self.num_nonfinite) > 0:
            warnings.warn(
                f"KeypointAP: {int(self.num_nonfinite)} detection(s) with non-finite keypoints or score "
                "were counted as misses (OKS 0 / lowest rank)",
                RuntimeWarning,
                stacklevel=2,
            )
        res = eval_packed(det, gt, k, self.sigmas, self.max_dets)
        return {key: res[key] for key in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")}


class MeanOKS(_DatasetSigmas, Metric):
    """Mean per-instance OKS between paired predictions and GT (top-down validation with GT boxes).

    Cheap alternative to :class:`KeypointAP` during training: no matching, one OKS per instance.
    Instances without labelled keypoints are excluded. Non-finite predicted keypoints score 0 for
    that keypoint (a miss) and are counted in ``num_nonfinite``.

    ``update(preds (B,K,2), target (B,K,2), visibility (B,K), *, area=None (B,), bbox=None (B,4), ...)``:
    the OKS scale is ``area``, or the box ``w*h`` when ``area`` is None.
    ``compute()`` returns a float64 scalar tensor.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, sigmas: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_buffer("sigmas", as_sigmas(sigmas), persistent=False)
        self.explicit_sigmas = sigmas is not None
        self.add_state("oks_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_nonfinite", default=torch.tensor(0), dist_reduce_fx="sum")

    def update(  # type: ignore[override]
        self,
        preds: Tensor,
        target: Tensor,
        visibility: Tensor,
        *,
        bbox: Tensor | None = None,
        norm: Tensor | None = None,
        area: Tensor | None = None,
        subsets: Tensor | None = None,
    ) -> None:
        """Accumulate OKS of a batch. ``norm`` and ``subsets`` are accepted and unused."""
        check_keypoint_inputs(preds, target, visibility, type(self).__name__)
        if preds.shape[1] != self.sigmas.numel():
            raise ValueError(f"MeanOKS has {self.sigmas.numel()} sigmas but preds have K={preds.shape[1]}")
        if area is None:
            if bbox is None:
                raise ValueError("MeanOKS.update needs `area` (B,) or `bbox` (B, 4) for the OKS scale")
            area = bbox[:, 2].double() * bbox[:, 3].double()
        vals = keypoint_oks(preds, target, visibility, area.reshape(-1), self.sigmas)
        ok = ~torch.isnan(vals)
        self.num_nonfinite = self.num_nonfinite + (~torch.isfinite(preds) & (visibility > 0)[..., None]).any(-1).sum()
        self.oks_sum = self.oks_sum + vals[ok].sum()
        self.count = self.count + ok.sum()

    def compute(self) -> Tensor:
        if int(self.count) == 0:
            raise RuntimeError("MeanOKS.compute() called before update() (or no instance had labelled keypoints)")
        if int(self.num_nonfinite) > 0:
            warnings.warn(
                f"MeanOKS: {int(self.num_nonfinite)} non-finite predicted keypoint(s) counted as misses",
                RuntimeWarning,
                stacklevel=2,
            )
        return self.oks_sum / self.count
