"""Decoders: network outputs -> keypoints (B, K, 2) in input px and scores (B, K).

Every decoder has ``decode(output, encoding)`` and ``check(encoding)``, and declares the encoding
kinds it reads (``accepts``, see :mod:`lit_heatmap.codecs.compat`): the
:class:`~lit_heatmap.codecs.base.KeypointDecoder` contract.  `output` is the raw head output of that
encoding: a tensor (B, K, h, w) for a ``"heatmap"`` encoding
(:class:`~lit_heatmap.codecs.base.HeatmapEncoding`, e.g. ``Heatmap2D``), a tuple (x (B,K,W*r),
y (B,K,H*r)) for a ``"simcc"`` one (:class:`~lit_heatmap.codecs.base.VectorEncoding`, e.g. ``SimCC``).
Any float dtype is accepted (computed in float32); keypoints and scores come back as float32.
Keypoints are clamped to the input extent [-0.5, W-0.5] x [-0.5, H-0.5] (the contract gives
keypoints outside the input visibility 0, so the network is never trained to place them there).

Scores: for 2D heatmaps the score is the channel's maximum value (the heatmap value at the integer
argmax, ~1 for a confident Gaussian target); for SimCC it is ``min(max(x), max(y))`` of the raw
vectors (as MMPose), so a keypoint is only as confident as its weaker axis.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import Encoding, HeadOutput, HeatmapEncoding, VectorEncoding
from .compat import check_compatible
from .refine import (
    FLOOR,
    argmax_2d,
    argmax_flat,
    fit_radius,
    quarter_offset_2d,
    refine_1d,
    refine_2d,
    soft_argmax_1d,
)


def _fit_window(name: str, kernel_size: int, floor: float) -> tuple[int, float]:
    """Validated ``(kernel_size, floor)`` of a decoder that fits a log-parabola in a window."""
    if int(kernel_size) != kernel_size or kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"{name}: kernel_size must be an odd int >= 3, got {kernel_size!r}")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"{name}: floor must be in [0, 1), got {floor!r}")
    return int(kernel_size), float(floor)


def _shape_error(output: Any, expected: tuple[int, ...]) -> bool:
    """True when `output` is not a tensor of shape (B, K, *expected).  The sizes are compared in
    eager mode only: under tracing they are traced values (the example input fixes them anyway)."""
    if not isinstance(output, Tensor) or output.ndim != 2 + len(expected):
        return True
    return not torch.jit.is_tracing() and tuple(output.shape[2:]) != expected


def _describe(output: Any) -> str:
    return str(tuple(output.shape)) if isinstance(output, Tensor) else type(output).__name__


def clamp_to_input(xy: Tensor, input_size: tuple[int, int]) -> Tensor:
    """Keypoints (..., 2) clamped to the input extent [-0.5, W - 0.5] x [-0.5, H - 0.5]."""
    iw, ih = input_size
    return torch.stack([xy[..., 0].clamp(-0.5, iw - 0.5), xy[..., 1].clamp(-0.5, ih - 0.5)], dim=-1)


class Decoder:
    """Base class: validation, flattening over (B, K), geometry and clamping.

    Subclasses implement ``_decode_2d(maps (N,h,w), ix, iy, sigma, size) -> (x, y)`` in heatmap
    px and/or ``_decode_1d(vectors (N,L), idx, sigma, length) -> (N,)`` in bins; ``sigma`` is the
    encoding's Gaussian std on that map (heatmap px) or axis (bins), ``size`` = (w, h) and
    ``length`` = L the map's static size (Python ints), and declare the kinds they read in
    ``accepts``.  ``exportable`` is False here: a subclass says True once its hooks trace.
    """

    accepts: tuple[str, ...] = ("heatmap", "simcc")
    exportable: bool = False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def check(self, encoding: Encoding) -> None:
        """Raise ValueError (naming both classes) if this decoder cannot read `encoding`'s output."""
        check_compatible(encoding, decoder=self)

    def decode(self, output: HeadOutput, encoding: HeatmapEncoding | VectorEncoding) -> tuple[Tensor, Tensor]:
        """output -> keypoints (B, K, 2) float32 input px, scores (B, K) float32."""
        if check_compatible(encoding, decoder=self) == "heatmap":
            xy, score = self._run_2d(output, encoding)
        else:
            xy, score = self._run_1d(output, encoding)
        return clamp_to_input(xy, encoding.input_size), score

    def _run_2d(self, output: Tensor, encoding: HeatmapEncoding) -> tuple[Tensor, Tensor]:
        w, h = encoding.heatmap_size
        if _shape_error(output, (h, w)):
            raise ValueError(
                f"{type(self).__name__}: {encoding!r} expects output (B, K, {h}, {w}), got {_describe(output)}"
            )
        b, k = output.shape[:2]
        maps = output.reshape(-1, h, w).float()
        ix, iy, val = argmax_2d(maps.detach())
        x, y = self._decode_2d(maps, ix, iy, encoding.sigma, (w, h))
        xy = encoding.to_input(torch.stack([x, y], dim=-1))
        return xy.reshape(b, k, 2), val.reshape(b, k)

    def _run_1d(self, output: HeadOutput, encoding: VectorEncoding) -> tuple[Tensor, Tensor]:
        if not (isinstance(output, (tuple, list)) and len(output) == 2):
            raise ValueError(f"{type(self).__name__}: {encoding!r} expects output (x, y), got {type(output).__name__}")
        coords, scores = [], []
        for axis, (vec, n) in enumerate(zip(output, encoding.simcc_size)):
            if _shape_error(vec, (n,)):
                raise ValueError(
                    f"{type(self).__name__}: {encoding!r} expects {'xy'[axis]} of shape (B, K, {n}), "
                    f"got {_describe(vec)}"
                )
            flat = vec.reshape(-1, n).float()
            val, idx = argmax_flat(flat.detach())
            coords.append(self._decode_1d(flat, idx, encoding.sigma[axis], n))
            scores.append(val)
        b, k = output[0].shape[:2]
        xy = encoding.to_input(torch.stack(coords, dim=-1))
        return xy.reshape(b, k, 2), torch.minimum(scores[0], scores[1]).reshape(b, k)

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _decode_1d(self, vectors: Tensor, idx: Tensor, sigma: float, length: int) -> Tensor:
        raise NotImplementedError


class ArgmaxDecoder(Decoder):
    """Integer argmax (2D pixel or 1D bin).  Quantisation error up to half a heatmap pixel / bin."""

    exportable = True

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        return ix.float(), iy.float()

    def _decode_1d(self, vectors: Tensor, idx: Tensor, sigma: float, length: int) -> Tensor:
        return idx.float()


class QuarterOffsetDecoder(Decoder):
    """HRNet/SimpleBaseline: argmax, then 0.25 heatmap px toward the higher neighbour on each axis
    (no shift on an axis where the argmax sits on the map's edge).  2D heatmaps only."""

    accepts = ("heatmap",)
    exportable = True

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        return quarter_offset_2d(maps, ix, iy)


class DarkDecoder(Decoder):
    """DARK (Zhang et al. 2020) Taylor refinement, done as a weighted log-parabola fit.

    Args:
        kernel_size: odd side of the window around the maximum (heatmap px for 2D, bins for
            SimCC) whose pixels enter the fit; it plays the role of DARK's blur kernel: the
            larger, the more noise is pooled.  Shifted inward at borders, shrunk for tiny maps.
        floor: samples below ``floor * max`` are raised to it before the log (whose noise near
            zero is unbounded); they sit far from the peak, where the fit's weights are tiny.

    DARK's own recipe (blur the whole map, log, one Newton step from finite differences) is
    biased near borders, where the blur reads padding (MMPose falls back to the integer argmax
    there), and costs ~25 us/keypoint.  Here the window (only in-map pixels) is collapsed into x
    and y profiles with Gaussian weights (the encoding's sigma) centred on the maximum, and
    log(profile) gets one weighted least-squares parabola whose weights are that Gaussian squared
    -- a fixed linear map per position of the maximum in the window, solved once (see
    :mod:`lit_heatmap.codecs.refine`): exact for Gaussian targets everywhere, borders included,
    noise pooled like the blur does, and only kernel_size^2 pixels read per keypoint.  The result
    stays within 1 heatmap px of the integer maximum (2D) or kernel_size/4 bins (SimCC), and a fit
    that is not concave keeps the integer maximum.  Not differentiable (use SoftArgmaxDecoder).
    """

    exportable = True

    def __init__(self, kernel_size: int = 11, floor: float = FLOOR) -> None:
        self.kernel_size, self.floor = _fit_window(type(self).__name__, kernel_size, floor)

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        return refine_2d(maps.detach(), ix, iy, fit_radius(self.kernel_size // 2, *size), sigma, self.floor)

    def _decode_1d(self, vectors: Tensor, idx: Tensor, sigma: float, length: int) -> Tensor:
        return refine_1d(vectors.detach(), idx, fit_radius(self.kernel_size // 2, length), sigma, self.floor)


class SoftArgmaxDecoder(Decoder):
    """Integral regression: expectation of softmax(beta * output), differentiable w.r.t. output.

    Args:
        beta: softmax temperature (1.0 treats the output as logits, as Sun et al. 2018).
        window: if set, only pixels/bins within `window` (Chebyshev distance, map px / bins) of
            the argmax take part, so distant false modes cannot pull the estimate.

    On peak-1 Gaussian targets the background (value 0, softmax weight 1 per pixel) pulls the
    estimate toward the centre of the map or window unless beta is large; use it with outputs
    trained for it (e.g. a soft-argmax loss) or with a window.
    """

    exportable = True

    def __init__(self, beta: float = 1.0, window: int | None = None) -> None:
        if not float(beta) > 0:
            raise ValueError(f"SoftArgmaxDecoder: beta must be > 0, got {beta!r}")
        if window is not None and (int(window) != window or window < 1):
            raise ValueError(f"SoftArgmaxDecoder: window must be None or an int >= 1, got {window!r}")
        self.beta = float(beta)
        self.window = None if window is None else int(window)

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        w, h = size
        logits = self.beta * maps
        gx = torch.arange(w, device=maps.device, dtype=torch.float32)
        gy = torch.arange(h, device=maps.device, dtype=torch.float32)
        if self.window is not None:
            far_x = (gx - ix.unsqueeze(1)).abs() > self.window  # (N, w)
            far_y = (gy - iy.unsqueeze(1)).abs() > self.window  # (N, h)
            logits = logits.masked_fill(far_y.unsqueeze(2) | far_x.unsqueeze(1), -torch.inf)
        prob = torch.softmax(logits.reshape(-1, h * w), dim=1).reshape(-1, h, w)
        return (prob.sum(1) * gx).sum(1), (prob.sum(2) * gy).sum(1)

    def _decode_1d(self, vectors: Tensor, idx: Tensor, sigma: float, length: int) -> Tensor:
        return soft_argmax_1d(vectors, self.beta, self.window)


class MarginalDecoder(Decoder):
    """Sum a 2D heatmap over rows and over columns into x (N, w) and y (N, h) profiles, then
    refine each profile around the 2D argmax with the log-parabola fit (exact for separable
    Gaussian targets, whose marginals are Gaussians, borders included; result within 1 px of the
    argmax).  The design document's O(h + w) 1D decoding applied to 2D outputs; every row of the
    map adds its noise to the profiles, so it is less robust than DarkDecoder.  2D only.

    Args:
        kernel_size: odd window (heatmap px) of the 1D fits.
    """

    accepts = ("heatmap",)
    exportable = True

    def __init__(self, kernel_size: int = 11, floor: float = FLOOR) -> None:
        self.kernel_size, self.floor = _fit_window(type(self).__name__, kernel_size, floor)

    def _decode_2d(
        self, maps: Tensor, ix: Tensor, iy: Tensor, sigma: float, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        maps = maps.detach()
        r = self.kernel_size // 2
        x = refine_1d(maps.sum(1), ix, fit_radius(r, size[0]), sigma, self.floor, max_shift=1.0)
        y = refine_1d(maps.sum(2), iy, fit_radius(r, size[1]), sigma, self.floor, max_shift=1.0)
        return x, y
