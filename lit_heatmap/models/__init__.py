"""Model parts: the timm backbone adapter, heads and losses (see also ``lit_heatmap.module``).

``encoding_kind`` and ``check_loss`` are aliases of ``lit_heatmap.codecs.encoding_kind`` /
``check_compatible(encoding, loss=...)``, kept until their last callers move to the codecs' names.
"""

from .backbone import Backbone, load_pretrained_path
from .heads import (
    DeconvHeatmapHead,
    HybridHead,
    MultiScaleHeatmapHead,
    SimCCHead,
    encoding_kind,
    target_shapes,
)
from .losses import (
    AdaptiveWingLoss,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SoftArgmaxLoss,
    check_loss,
)

__all__ = [
    "Backbone",
    "load_pretrained_path",
    "DeconvHeatmapHead",
    "MultiScaleHeatmapHead",
    "SimCCHead",
    "HybridHead",
    "encoding_kind",
    "target_shapes",
    "KeypointMSELoss",
    "KLDiscreteLoss",
    "AdaptiveWingLoss",
    "SoftArgmaxLoss",
    "HybridLoss",
    "check_loss",
]
