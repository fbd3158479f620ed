"""Heads: each sizes itself from the backbone's (channels, strides), K and the encoding's geometry.

Every head has the signature ``Head(in_channels, in_strides, num_keypoints, encoding, **options)`` and
declares the encoding kinds it produces outputs for in ``accepts``; a wrong pairing raises ``ValueError``
naming both classes (:func:`lit_heatmap.codecs.check_compatible`).  The contract is
:class:`lit_heatmap.codecs.Head` (built head) and :class:`lit_heatmap.codecs.HeadFactory` (its node).
"""

from .base import KeypointHead, target_shapes
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
    "target_shapes",
]
