"""Keypoint metrics as torchmetrics ``Metric`` classes (functional twins in ``.functional``).

Tensor metrics share one update signature (the :class:`TensorMetric` protocol; base class
:class:`KeypointMetric`)::

    metric.update(preds (B,K,2), target (B,K,2), visibility (B,K), *,
                  bbox=None (B,4 xywh), norm=None (B,), area=None (B,), subsets=None (B,S) bool)

``KeypointAP.update(preds: list[dict], targets: list[dict])`` takes per-image COCO-style dicts.

:class:`KeypointEvaluator` evaluates a whole split for the LightningModule: predictions in original
pixels once per batch, the tensor metrics, and ``KeypointAP`` through the top-down protocol (rescoring,
OKS-NMS, AP against every image of the split's ground truth).
"""

from lit_heatmap.metrics._base import KeypointMetric, TensorMetric
from lit_heatmap.metrics.coco import KeypointAP, MeanOKS
from lit_heatmap.metrics.epe import EPE
from lit_heatmap.metrics.evaluator import KeypointEvaluator
from lit_heatmap.metrics.nme import NME
from lit_heatmap.metrics.pck import PCK, PCKAUC

__all__ = [
    "EPE",
    "NME",
    "PCK",
    "PCKAUC",
    "KeypointAP",
    "KeypointEvaluator",
    "KeypointMetric",
    "MeanOKS",
    "TensorMetric",
]
