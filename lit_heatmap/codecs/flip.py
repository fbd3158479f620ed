"""Flip test: mirror network outputs horizontally and swap left/right channels.

A horizontally flipped input image (``image.flip(-1)``) moves input x to ``W - 1 - x``.  For an
encoding with the affine map ``u = a*x + b`` (input px -> heatmap px or bins) this lands the peak
at ``u' = a*(W - 1) + 2b - u``, while reversing an `n`-pixel map sends `u` to ``n - 1 - u``; the
output must be shifted by ``flip_shift = a*(W - 1) + 2b - (n - 1)``.  MMPose's ``x / stride`` map
needs ``1 - 1/stride`` px (HRNet's "shift by 1 px" approximates it).  The codecs here align pixel
areas (non-UDP) or corners (UDP), for which that shift is exactly 0 in every mode and for SimCC:
flipping is a plain reversal, exact, and flipping twice is the identity (for an involutive
`flip_index`).  :func:`flip_shift` computes it from the encoding's own ``affine()``.

The flip test itself, :func:`flip_test_average`, is the one place a head output is averaged with the
mirrored pass: the LightningModule (val/test) and the deploy graph (``lit_heatmap.inference``) call it.

Export: the flips trace with a dynamic batch axis (a reversal and a constant channel gather); the
channel count of `flip_index` is checked against the output in eager mode only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import Encoding, HeadOutput, HeatmapEncoding, VectorEncoding


def flip_shift(encoding: HeatmapEncoding | VectorEncoding) -> tuple[float, float]:
    """Shift (map px / bins) needed after reversing, per axis (x, unused 0 for y); 0 here."""
    (a, _), (b, _) = encoding.affine()
    n = encoding.heatmap_size[0] if encoding.kind == "heatmap" else encoding.simcc_size[0]
    return a * (encoding.input_size[0] - 1) + 2 * b - (n - 1), 0.0


def _channel_order(flip_index: Sequence[int], output: Tensor) -> list[int]:
    """`flip_index` as a list of channel indices, checked against the output's channel count K
    (under tracing K is a traced value: then only against the list's own length)."""
    idx = [int(i) for i in flip_index]
    k = len(idx) if torch.jit.is_tracing() else output.shape[1]
    if len(idx) != k or any(not 0 <= i < k for i in idx):
        raise ValueError(f"flip_index must list {k} channel indices in [0, {k}), got {list(flip_index)}")
    return idx


def _check_exact(encoding: HeatmapEncoding | VectorEncoding) -> None:
    shift = flip_shift(encoding)[0]
    if abs(shift) > 1e-4:
        raise ValueError(f"flip_output: {encoding!r} needs a {shift:.4f} px shift after reversal; unsupported")


def flip_heatmap(output: Tensor, encoding: HeatmapEncoding, flip_index: Sequence[int]) -> Tensor:
    """(B, K, h, w) -> (B, K, h, w): reversed along w, channel k taken from flip_index[k]."""
    _check_exact(encoding)
    return output.flip(-1)[:, _channel_order(flip_index, output)]


def flip_simcc(
    output: tuple[Tensor, Tensor], encoding: VectorEncoding, flip_index: Sequence[int]
) -> tuple[Tensor, Tensor]:
    """(x (B,K,W*r), y (B,K,H*r)) -> x reversed, y unchanged, both channel-swapped."""
    _check_exact(encoding)
    x, y = output
    idx = _channel_order(flip_index, x)
    return x.flip(-1)[:, idx], y[:, idx]


def flip_output(output: HeadOutput, encoding: Encoding, flip_index: Sequence[int]) -> HeadOutput:
    """Mirror a head output of `encoding` horizontally and swap left/right channels.

    Typical flip test: ``(out + flip_output(model(image.flip(-1)), enc, flip_index)) / 2``
    then decode.  ``"heatmap"`` and ``"simcc"`` encodings use the functions above; others may
    define ``flip_output(output, flip_index)`` themselves (:class:`~lit_heatmap.codecs.base.FlipsItself`,
    e.g. a hybrid built on those two).
    """
    kind = getattr(type(encoding), "kind", None)
    if kind == "heatmap":
        return flip_heatmap(output, encoding, flip_index)
    if kind == "simcc":
        return flip_simcc(output, encoding, flip_index)
    if hasattr(encoding, "flip_output"):
        return encoding.flip_output(output, flip_index)
    raise ValueError(f"flip_output: no flip rule for {type(encoding).__name__}")


def flip_keypoints(keypoints: Tensor, input_size: Sequence[int], flip_index: Sequence[int]) -> Tensor:
    """Keypoints (B, K, 2) of an image -> those of ``image.flip(-1)``: x -> W-1-x, channels swapped."""
    out = keypoints[:, _channel_order(flip_index, keypoints)]
    return torch.stack([(input_size[0] - 1) - out[..., 0], out[..., 1]], dim=-1)


def _average_outputs(a: HeadOutput, b: HeadOutput) -> HeadOutput:
    """Elementwise mean of two head outputs with the same (nested tuple) structure."""
    if isinstance(a, Tensor):
        return (a + b) * 0.5
    return type(a)(_average_outputs(x, y) for x, y in zip(a, b))


def flip_test_average(
    output: HeadOutput, flipped: HeadOutput, encoding: Encoding, flip_index: Sequence[int]
) -> HeadOutput:
    """The flip test: ``output`` of the images averaged with ``flipped``, the output of the mirrored images
    (``image.flip(-1)``), mirrored back with :func:`flip_output`.  Same structure and shapes as ``output``."""
    return _average_outputs(output, flip_output(flipped, encoding, flip_index))
