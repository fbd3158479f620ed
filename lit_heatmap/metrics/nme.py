"""NME with FR and AUC (the WFLW triple), overall and per attribute subset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from lit_heatmap.facts import WFLW_ATTRIBUTES
from lit_heatmap.metrics._base import KeypointMetric
from lit_heatmap.metrics.functional.nme import (
    NMENormalize,
    nme_from_stats,
    nme_normalizer,
    nme_stats,
    per_sample_nme,
)
from lit_heatmap.metrics.functional.shared import check_normalize, check_positive


class NME(KeypointMetric):
    """Normalised mean error, failure rate and CED AUC at ``failure_threshold``, all in %.

    Args:
        normalize: ``"inter_ocular"`` (default, WFLW outer eye corners (60, 72)), ``"inter_pupil"``
            (WFLW pupils (96, 97), or centroids of index lists), ``"bbox"`` (``sqrt(w*h)`` of ``bbox``),
            ``"norm"`` (the batch's ``norm``) or any pair ``(i, j)``.
        indices: the pair for ``inter_ocular`` / ``inter_pupil`` (e.g. (36, 45) for 300W's 68 points).
        failure_threshold: FR/AUC threshold on the per-sample NME (0.10 for WFLW).
        subset_names: names of the columns of ``subsets (B, S)``; default WFLW's six attributes
            (pose, expression, illumination, makeup, occlusion, blur) when S = 6, else ``subset<i>``.

    ``compute()`` returns ``{"NME", "FR@0.1", "AUC@0.1"}`` (float64, %) and, when ``subsets`` were given,
    ``"NME/<name>"``, ``"FR@0.1/<name>"``, ``"AUC@0.1/<name>"`` per subset (NaN for an empty subset).
    A sample with a NaN/inf prediction is a failure, scores 0 in the AUC and is left out of the NME mean
    (counted in ``num_nonfinite``, with a warning).
    """

    higher_is_better = False

    def __init__(
        self,
        normalize: NMENormalize = "inter_ocular",
        indices: Sequence[int | Sequence[int]] | None = None,
        failure_threshold: float = 0.10,
        subset_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_normalize(normalize, ("inter_ocular", "inter_pupil", "bbox", "norm"), "NME")
        check_positive(failure_threshold, "failure_threshold", "NME")
        self.normalize = normalize if isinstance(normalize, str) else tuple(normalize)
        self.indices = None if indices is None else tuple(indices)
        self.failure_threshold = float(failure_threshold)
        self.subset_names = None if subset_names is None else tuple(subset_names)
        self.add_state("stats", default=torch.zeros(5, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("subset_stats", default=[], dist_reduce_fx="cat")
        self._num_subsets: int | None = None

    def _update(self, preds: Tensor, target: Tensor, visibility: Tensor, **kw: Any) -> None:
        n = nme_normalizer(target, visibility, self.normalize, self.indices, bbox=kw["bbox"], norm=kw["norm"])
        nmes = per_sample_nme(preds, target, visibility, n)
        self.stats = self.stats + nme_stats(nmes, self.failure_threshold).to(self.stats.device)
        subsets = kw["subsets"]
        if subsets is None:
            if self._num_subsets is not None:
                raise ValueError("NME: `subsets` was given in earlier updates but not in this one")
            return
        subsets = torch.as_tensor(subsets, device=preds.device)
        if subsets.ndim != 2 or subsets.shape[0] != preds.shape[0]:
            raise ValueError(f"NME: subsets must be (B={preds.shape[0]}, S), got {tuple(subsets.shape)}")
        s = subsets.shape[1]
        if self._num_subsets is None and int(self.num_samples) > preds.shape[0]:
            raise ValueError("NME: `subsets` given now but not in earlier updates")
        if self._num_subsets is not None and s != self._num_subsets:
            raise ValueError(f"NME: got S={s} subset columns, earlier updates had {self._num_subsets}")
        if self.subset_names is not None and len(self.subset_names) != s:
            raise ValueError(f"NME: {len(self.subset_names)} subset_names for S={s} subset columns")
        self._num_subsets = s
        mask = subsets.bool()
        nan = torch.full_like(nmes, float("nan"))
        rows = [nme_stats(torch.where(mask[:, j], nmes, nan), self.failure_threshold) for j in range(s)]
        self.subset_stats.append(torch.stack(rows)[None])

    def reset(self) -> None:
        super().reset()
        self._num_subsets = None

    def _names(self, s: int) -> tuple[str, ...]:
        if self.subset_names is not None:
            return self.subset_names
        return WFLW_ATTRIBUTES if s == len(WFLW_ATTRIBUTES) else tuple(f"subset{i}" for i in range(s))

    def compute(self) -> dict[str, Tensor]:
        self._check_computable()
        t = f"{self.failure_threshold:g}"
        keys = ("NME", f"FR@{t}", f"AUC@{t}")
        out = dict(zip(keys, nme_from_stats(self.stats)))
        has_subsets = isinstance(self.subset_stats, Tensor) or len(self.subset_stats) > 0
        if has_subsets:
            sub = self._sum_list(self.subset_stats)  # (S, 5)
            values = nme_from_stats(sub)
            for j, name in enumerate(self._names(sub.shape[0])):
                for key, v in zip(keys, values):
                    out[f"{key}/{name}"] = v[j]
        return out
