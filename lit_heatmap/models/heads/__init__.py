"""Heads: each sizes itself from the backbone's (channels, strides), K and the encoding's geometry.

Every head has the signature ``Head(in_channels, in_strides, num_keypoints, encoding, **options)`` and a
class method ``check(encoding)`` that raises ``ValueError`` naming both classes for a wrong pairing.
"""

from .base import KeypointHead, encoding_kind, target_shapes
from .deconv import DeconvHeatmapHead
from .hybrid import HybridHead
from .multiscale import MultiScaleHeatmapHead
from .simcc import SimCCHead

__all__ = [
    "KeypointHead",
    "DeconvHeatmapHead",
    "MultiScaleHeatmapHead",
    "SimCCHead",
    "HybridHead",
    "encoding_kind",
    "target_shapes",
]
