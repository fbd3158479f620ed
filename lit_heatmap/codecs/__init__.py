"""Codecs: keypoints -> training targets (encodings) and network outputs -> keypoints (decoders).

Pure torch, batched over (B, K) without Python loops, any device, float32/float16/bfloat16.

Conventions
-----------
* Sizes are ``(width, height)``; keypoints are ``(x, y)`` float in network-input pixels; the centre
  of pixel column `j` / row `i` is ``(j, i)`` and an image spans ``[-0.5, W - 0.5]``.  The same holds
  on a heatmap (pixel `j` centred at `j`) and on a SimCC vector (bin `b` centred at `b`).
* Scales.  ``Heatmap2D`` modes ``msra``/``unbiased`` align pixel *areas*:
  ``u = (x + 0.5) * w / W - 0.5``; mode ``udp`` aligns the corner pixel *centres*:
  ``u = x * (w - 1) / (W - 1)`` (both ways -- MMPose 1.3.2 encodes UDP with one scale and decodes
  with another).  SimCC: ``b = (x + 0.5) * r - 0.5``.  Each encoding's ``affine()`` (and SimCC's
  ``to_bins``) is the only place these live; ``to_heatmap``/``to_bins``/``to_input`` apply them,
  and encode, decode and flip all use those.
* Targets have peak value 1; sigma is in heatmap px (2D) or bins (SimCC).  Weight 0 for unlabelled
  keypoints (visibility 0, or non-finite coordinates) and for keypoints whose Gaussian centre is
  more than 3 sigma outside the map's extent (every in-map value < 0.011); partly outside ones
  keep weight 1 and a clipped Gaussian.
* ``msra`` snaps the centre to the nearest heatmap pixel: at stride 4 that alone costs ~1.5 input
  px mean error (uniform in a 4x4 px square: 0.383*4 = 1.53 px), whatever the decoder -- it is the
  method's error, not the decoder's.  ``unbiased``/``udp``/SimCC place it exactly.
* Decoders return keypoints (B, K, 2) in input px (float32, clamped to the input extent) and
  scores (B, K): 2D -> the channel's maximum value; SimCC -> min of the x and y maxima.
* Flip test: :func:`flip_output`; with these geometries it is an exact reversal (no 1-px shift).
* Compatibility: each encoding class has a ``kind`` (``"heatmap"``, ``"simcc"``, ``"hybrid"``); heads,
  decoders and losses list the kinds they work with in ``accepts``; :func:`check_compatible` checks a
  whole combination.  Export: every built-in decoder (``exportable = True``) traces into ONNX /
  TorchScript graphs with a dynamic batch axis, flip-test included; :func:`check_exportable` refuses
  the others (:class:`ExportError`).

Contracts (:mod:`lit_heatmap.codecs.base`, ``typing.Protocol`` classes): ``Encoding,
HeatmapEncoding, VectorEncoding, FlipsItself, HybridEncoding`` (what an encoding provides),
``KeypointDecoder, Head, HeadFactory, Loss`` (what decoders, heads and losses provide), ``HeadOutput``.

Names: ``Heatmap2D, SimCC, Hybrid`` (encodings); ``ArgmaxDecoder, QuarterOffsetDecoder, DarkDecoder,
SoftArgmaxDecoder, MarginalDecoder, HybridDecoder`` (decoders, base class ``Decoder``); ``flip_output,
flip_heatmap, flip_simcc, flip_keypoints, flip_shift, flip_test_average``; ``KINDS, encoding_kind, check_compatible,
check_exportable, ExportError``.
"""

from .base import (
    Encoding,
    FlipsItself,
    Head,
    HeadFactory,
    HeadOutput,
    HeatmapEncoding,
    HybridEncoding,
    KeypointDecoder,
    Loss,
    VectorEncoding,
)
from .compat import (
    KINDS,
    ExportError,
    check_compatible,
    check_exportable,
    encoding_kind,
)
from .decoders import (
    ArgmaxDecoder,
    DarkDecoder,
    Decoder,
    MarginalDecoder,
    QuarterOffsetDecoder,
    SoftArgmaxDecoder,
)
from .flip import flip_heatmap, flip_keypoints, flip_output, flip_shift, flip_simcc, flip_test_average
from .heatmap2d import Heatmap2D
from .hybrid import Hybrid, HybridDecoder
from .simcc import SimCC

__all__ = [
    "KINDS",
    "ArgmaxDecoder",
    "DarkDecoder",
    "Decoder",
    "Encoding",
    "ExportError",
    "FlipsItself",
    "Head",
    "HeadFactory",
    "HeadOutput",
    "HeatmapEncoding",
    "HybridEncoding",
    "KeypointDecoder",
    "Loss",
    "VectorEncoding",
    "Heatmap2D",
    "Hybrid",
    "HybridDecoder",
    "MarginalDecoder",
    "QuarterOffsetDecoder",
    "SimCC",
    "SoftArgmaxDecoder",
    "check_compatible",
    "check_exportable",
    "encoding_kind",
    "flip_heatmap",
    "flip_keypoints",
    "flip_output",
    "flip_shift",
    "flip_simcc",
    "flip_test_average",
]
