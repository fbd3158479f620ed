"""Common base of the tensor metrics: the shared update signature, K checks, non-finite counting and
one rule for nothing to score.

The rule (every tensor metric): an update may hold no sample or no labelled keypoint; it adds nothing.
``compute()`` with nothing to score raises ``RuntimeError`` naming the cause: no update at all, updates
whose batches were empty, or samples none of whose keypoints is labelled (visibility 0 everywhere).

Two kinds of metric reach :class:`~lit_heatmap.metrics.KeypointEvaluator`, told apart by one class
attribute, so a new metric of either kind works without editing the evaluator:

* tensor metrics (``scores_images`` absent or False; subclass :class:`KeypointMetric`): fed every batch
  with the instances that have paired ground truth, through the update signature below;
* image-level metrics (``scores_images: ClassVar[bool] = True``, e.g. ``KeypointAP``): scored once per
  split by ``score_images(results, ground_truth, seen_only) -> dict[str, Tensor]``, where ``results``
  are the split's predictions after the top-down protocol (rescoring, OKS-NMS: ``image_id (N,)``,
  ``keypoints (N, K, 2)``, ``keypoint_scores (N, K)``, ``score (N,)``, ``bbox (N, 4)``) and
  ``ground_truth`` the ``(M, 3K+7)`` rows of every image of the split
  (:func:`~lit_heatmap.metrics.functional.coco.pack_ground_truth`); ``seen_only`` limits the score to
  the images with predictions. The evaluator never calls their ``update``.

OKS metrics may also define ``use_dataset_sigmas(sigmas)`` to take the dataset's sigmas.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lit_heatmap.metrics.functional.shared import check_keypoint_inputs


@runtime_checkable
class TensorMetric(Protocol):
    """What the evaluator calls on a tensor metric every batch (:class:`KeypointMetric` implements it).

    ``preds (B, K, 2)`` and ``target (B, K, 2)`` in original pixels, ``visibility (B, K)``; keyword
    inputs ``bbox (B, 4)`` xywh, ``norm (B,)``, ``area (B,)``, ``subsets (B, S)`` bool, each None when the
    batch has none; a metric uses those it needs.
    """

    def update(
        self,
        preds: Tensor,
        target: Tensor,
        visibility: Tensor,
        *,
        bbox: Tensor | None = None,
        norm: Tensor | None = None,
        area: Tensor | None = None,
        subsets: Tensor | None = None,
    ) -> None: ...

    def compute(self) -> Tensor | dict[str, Tensor]: ...


class KeypointMetric(Metric):
    """Base class of the tensor metrics: PCK / NME / EPE / MeanOKS (the module docstring tells them from
    image-level metrics).

    Subclasses implement ``_update(preds, target, visibility, bbox, norm, area, subsets)``. This base
    checks shapes (``ValueError`` on a K that differs from earlier updates), counts non-finite
    labelled predictions in the ``num_nonfinite`` state and warns about them in ``compute()``, and applies
    the module's rule when there is nothing to score.
    States are only ever reassigned or appended to (never modified in place), as DDP requires.
    """

    is_differentiable = False
    full_state_update = False
    scores_images: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("num_nonfinite", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_samples", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_labelled", default=torch.tensor(0), dist_reduce_fx="sum")
        self._num_keypoints: int | None = None

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
        """``preds (B,K,2)``, ``target (B,K,2)``, ``visibility (B,K)``; keyword inputs ``bbox (B,4)``
        xywh, ``norm (B,)``, ``area (B,)``, ``subsets (B,S)`` bool are used when the metric needs them."""
        name = type(self).__name__
        check_keypoint_inputs(preds, target, visibility, name)
        k = preds.shape[1]
        if self._num_keypoints is not None and k != self._num_keypoints:
            raise ValueError(f"{name}: got K={k} keypoints, earlier updates had K={self._num_keypoints}")
        self._num_keypoints = k
        bad = (~torch.isfinite(preds).all(-1)) & (visibility > 0)
        self.num_nonfinite = self.num_nonfinite + bad.sum()
        self.num_samples = self.num_samples + preds.shape[0]
        self.num_labelled = self.num_labelled + (visibility > 0).sum()
        self._update(preds, target, visibility, bbox=bbox, norm=norm, area=area, subsets=subsets)

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        self._num_keypoints = None

    def _check_computable(self) -> None:
        name = type(self).__name__
        if not self.update_called:
            raise RuntimeError(f"{name}.compute() called before update()")
        if int(self.num_samples) == 0:
            raise RuntimeError(f"{name}: nothing to score: the {self.update_count} update(s) held empty batches")
        if int(self.num_labelled) == 0:
            raise RuntimeError(
                f"{name}: nothing to score: none of the {int(self.num_samples)} sample(s) has a labelled keypoint "
                "(visibility 0 everywhere)"
            )
        if int(self.num_nonfinite) > 0:
            warnings.warn(
                f"{name}: {int(self.num_nonfinite)} labelled keypoint prediction(s) were NaN/inf; "
                "they count as misses (PCK: incorrect; NME: failures, excluded from the mean; EPE: excluded; "
                "MeanOKS: OKS 0 for that keypoint)",
                RuntimeWarning,
                stacklevel=3,
            )

    @staticmethod
    def _sum_list(state: list[Tensor] | Tensor) -> Tensor:
        """Sum a ``cat``-reduced list state of per-update rows ``(1, ...)`` over updates (and ranks)."""
        return dim_zero_cat(state).sum(0)
