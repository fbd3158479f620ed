"""Common base of the tensor metrics: the shared update signature, K checks, non-finite counting."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from lit_heatmap.metrics.functional.shared import check_keypoint_inputs


class KeypointMetric(Metric):
    """Base class for PCK / NME / EPE.

    Subclasses implement ``_update(preds, target, visibility, bbox, norm, area, subsets)``. This base
    checks shapes (``ValueError`` on a K that differs from earlier updates), counts non-finite
    labelled predictions in the ``num_nonfinite`` state and warns about them in ``compute()``.
    States are only ever reassigned or appended to (never modified in place), as DDP requires.
    """

    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("num_nonfinite", default=torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("num_samples", default=torch.tensor(0), dist_reduce_fx="sum")
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
        self._update(preds, target, visibility, bbox=bbox, norm=norm, area=area, subsets=subsets)

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        super().reset()
        self._num_keypoints = None

    def _check_computable(self) -> None:
        name = type(self).__name__
        if int(self.num_samples) == 0:
            raise RuntimeError(f"{name}.compute() called before update(): no samples were added")
        if int(self.num_nonfinite) > 0:
            warnings.warn(
                f"{name}: {int(self.num_nonfinite)} labelled keypoint prediction(s) were NaN/inf; "
                "they count as misses (PCK: incorrect; NME: failures, excluded from the mean; EPE: excluded)",
                RuntimeWarning,
                stacklevel=3,
            )

    @staticmethod
    def _sum_list(state: list[Tensor] | Tensor) -> Tensor:
        """Sum a ``cat``-reduced list state of per-update rows ``(1, ...)`` over updates (and ranks)."""
        return dim_zero_cat(state).sum(0)
