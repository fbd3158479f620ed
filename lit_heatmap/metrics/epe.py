"""EPE: mean end-point error in pixels over labelled keypoints."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lit_heatmap.metrics._base import KeypointMetric
from lit_heatmap.metrics.functional.shared import keypoint_distances


class EPE(KeypointMetric):
    """Mean Euclidean distance (pixels, in the coordinates given) over all labelled keypoints.

    NaN/inf predictions are excluded from the mean, counted in ``num_nonfinite`` and warned about.
    ``compute()`` returns a float64 scalar.
    """

    higher_is_better = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("dist_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0), dist_reduce_fx="sum")

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        d = keypoint_distances(preds, target)
        use = (visibility > 0) & torch.isfinite(d)
        self.dist_sum = self.dist_sum + d[use].sum()
        self.count = self.count + use.sum()

    def compute(self) -> Tensor:
        self._check_computable()
        return self.dist_sum / self.count
