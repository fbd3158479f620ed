"""Model parts: the timm backbone adapter, heads and losses (see also ``lit_heatmap.module``)."""

from .backbone import Backbone, load_pretrained_path
from .heads import (
    DeconvHeatmapHead,
    HybridHead,
    MultiScaleHeatmapHead,
    SimCCHead,
    target_shapes,
)
from .losses import (
    AdaptiveWingLoss,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SoftArgmaxLoss,
)

__all__ = [
    "Backbone",
    "load_pretrained_path",
    "DeconvHeatmapHead",
    "MultiScaleHeatmapHead",
    "SimCCHead",
    "HybridHead",
    "target_shapes",
    "KeypointMSELoss",
    "KLDiscreteLoss",
    "AdaptiveWingLoss",
    "SoftArgmaxLoss",
    "HybridLoss",
]
