"""Heads: each sizes itself from the backbone's (channels, strides), K and the encoding's geometry.

Every head has the signature ``Head(in_channels, in_strides, num_keypoints, encoding, **options)`` and
declares the encoding kinds it produces outputs for in ``accepts``; a wrong pairing raises ``ValueError``
naming both classes (:func:`lit_heatmap.codecs.check_compatible`).  ``KeypointHead.check`` and
``encoding_kind`` here are aliases kept until the module and the app tests use the codecs' names.
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
