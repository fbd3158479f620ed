"""PCK and PCK-AUC as torchmetrics metrics (see :mod:`lit_heatmap.metrics.functional.pck`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from lit_heatmap.metrics._base import KeypointMetric
from lit_heatmap.metrics.functional.pck import (
    Normalize,
    auc_thresholds,
    pck_counts,
    pck_from_counts,
    pck_normalizer,
    pck_per_keypoint,
)
from lit_heatmap.metrics.functional.shared import check_normalize, check_positive


class PCK(KeypointMetric):
    """Percentage of correct keypoints: ``distance / normaliser < threshold`` (strict).

    Args:
        threshold: e.g. 0.05 (COCO-style bbox PCK), 0.2 (torso), 0.5 (PCKh).
        normalize: ``"bbox"`` (max(w, h) of ``bbox``), ``"head"`` (per-sample head size in ``norm``),
            ``"torso"`` (GT distance of ``indices``, default COCO left shoulder / right hip (5, 12)),
            ``"norm"`` (the batch's ``norm``) or a pair of keypoint indices ``(i, j)``.
        average: ``"macro"`` (mean of per-keypoint accuracies, as MMPose) or ``"micro"``.
        indices: keypoint pair for ``"torso"``.

    Unlabelled keypoints and samples without a valid normaliser are excluded; NaN/inf predictions are
    misses. ``compute()`` returns a float64 scalar in [0, 1]; :meth:`compute_per_keypoint` gives ``(K,)``.
    """

    higher_is_better = True

    def __init__(
        self,
        threshold: float = 0.05,
        normalize: Normalize = "bbox",
        average: str = "macro",
        indices: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if average not in ("macro", "micro"):
            raise ValueError(f"PCK: average must be 'macro' or 'micro', got {average!r}")
        self.threshold = check_positive(threshold, "threshold", type(self).__name__)
        check_normalize(normalize, ("bbox", "head", "torso", "norm"), type(self).__name__)
        self.normalize = normalize if isinstance(normalize, str) else tuple(normalize)
        self.average = average
        self.indices = None if indices is None else tuple(indices)
        self.add_state("correct", default=[], dist_reduce_fx="cat")
        self.add_state("valid", default=[], dist_reduce_fx="cat")

    def _thresholds(self) -> Tensor:
        return torch.tensor([self.threshold], dtype=torch.float64)

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        n = pck_normalizer(
            target,
            visibility,
            self.normalize,
            bbox=kw["bbox"],
            norm=kw["norm"],
            indices=self.indices,
            name=type(self).__name__,
        )
        correct, valid = pck_counts(preds, target, visibility, n, self._thresholds())
        self.correct.append(correct[None])
        self.valid.append(valid[None])

    def _counts(self) -> tuple[Tensor, Tensor]:
        self._check_computable()
        return self._sum_list(self.correct), self._sum_list(self.valid)

    def compute(self) -> Tensor:
        correct, valid = self._counts()
        return pck_from_counts(correct[0], valid, self.average)

    def compute_per_keypoint(self) -> Tensor:
        """``(K,)`` accuracy per keypoint (NaN for keypoints never labelled). Call after syncing in DDP
        (e.g. from ``on_validation_epoch_end`` via ``metric.sync()`` / ``metric.unsync()``)."""
        correct, valid = self._counts()
        return pck_per_keypoint(correct[0], valid)


class PCKAUC(PCK):
    """Area under the PCK curve on ``[0, max_threshold)``, normalised to [0, 1].

    The mean of PCK at thresholds ``max_threshold * i / num_thresholds``, ``i = 0..num_thresholds-1``
    (MMPose's ``keypoint_auc``; its hand AUC is ``normalize="norm"`` with ``norm = 30`` px and
    ``max_threshold=1``). Other arguments as :class:`PCK`. ``compute()`` returns a float64 scalar.
    """

    def __init__(
        self,
        max_threshold: float = 0.5,
        num_thresholds: int = 20,
        normalize: Normalize = "bbox",
        average: str = "macro",
        indices: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(threshold=max_threshold, normalize=normalize, average=average, indices=indices, **kwargs)
        if num_thresholds < 1 or max_threshold <= 0:
            raise ValueError("PCKAUC: need num_thresholds >= 1 and max_threshold > 0")
        self.max_threshold = float(max_threshold)
        self.num_thresholds = int(num_thresholds)

    def _thresholds(self) -> Tensor:
        return auc_thresholds(self.max_threshold, self.num_thresholds)

    def compute(self) -> Tensor:
        correct, valid = self._counts()
        return pck_from_counts(correct, valid, self.average).mean()

    def compute_per_keypoint(self) -> Tensor:
        """``(K,)`` per-keypoint AUC (NaN for keypoints never labelled)."""
        correct, valid = self._counts()
        return pck_per_keypoint(correct, valid[None].expand_as(correct)).mean(0)
