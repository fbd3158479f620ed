"""Hybrid encoding: a 2D heatmap and SimCC vectors of the same keypoints, and a decoder fusing them.

The 2D branch sees the whole image context (robust under occlusion, but quantised to the heatmap
grid); SimCC keeps sub-pixel precision with 1D vectors.  :class:`HybridDecoder` multiplies the SimCC
distributions with the 1D marginals of the 2D heatmap (a product of experts, in log space), then
takes the windowed mean of the fused distribution.

Output of a hybrid head: ``(heatmaps (B, K, h, w), (x (B, K, W*r), y (B, K, H*r)))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import HeadOutput, HybridEncoding
from .decoders import DarkDecoder, Decoder, SoftArgmaxDecoder
from .flip import flip_heatmap, flip_simcc
from .heatmap2d import Heatmap2D
from .simcc import SimCC

__all__ = ["Hybrid", "HybridDecoder"]

FUSION_MODES = ("product", "heatmap", "simcc")


class Hybrid:
    """Encode keypoints for both branches of a hybrid head.

    Args:
        heatmap: the 2D encoding (``Heatmap2D``).
        simcc: the 1D encoding (``SimCC``); both must share ``input_size``.

    ``encode(keypoints (B,K,2), visibility (B,K)) -> ((heatmaps (B,K,h,w), (x, y)), weight (B,K))`` where
    the weight is the product of both encodings' weights (a keypoint trains both branches or none).
    """

    kind = "hybrid"

    def __init__(self, heatmap: Heatmap2D, simcc: SimCC) -> None:
        if not isinstance(heatmap, Heatmap2D) or not isinstance(simcc, SimCC):
            raise ValueError(
                f"Hybrid(heatmap=..., simcc=...) needs a Heatmap2D and a SimCC, got "
                f"{type(heatmap).__name__} and {type(simcc).__name__}"
            )
        if tuple(heatmap.input_size) != tuple(simcc.input_size):
            raise ValueError(f"Hybrid: heatmap.input_size {heatmap.input_size} != simcc.input_size {simcc.input_size}")
        self.heatmap = heatmap
        self.simcc = simcc
        self.input_size = heatmap.input_size

    def __repr__(self) -> str:
        return f"Hybrid(heatmap={self.heatmap!r}, simcc={self.simcc!r})"

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[tuple[Tensor, tuple[Tensor, Tensor]], Tensor]:
        """Keypoints (B, K, 2) input px, visibility (B, K) -> ((heatmaps, (x, y)), weight (B, K))."""
        hm, w_hm = self.heatmap.encode(keypoints, visibility)
        (x, y), w_sc = self.simcc.encode(keypoints, visibility)
        return (hm, (x, y)), w_hm * w_sc

    def flip_output(self, output: HeadOutput, flip_index: Sequence[int]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Mirror ``(heatmaps, (x, y))`` horizontally and swap left/right channels (see ``flip_output``)."""
        hm, xy = output
        return flip_heatmap(hm, self.heatmap, flip_index), flip_simcc(tuple(xy), self.simcc, flip_index)


def bins_on_heatmap(encoding: HybridEncoding, axis: int, device: torch.device | None = None) -> Tensor:
    """Where the SimCC bin centres of `axis` (0: x, 1: y) lie on the heatmap, in heatmap px, clamped
    to the map: ``heatmap.to_heatmap(simcc.to_input(bins))``.  -> (W*r,) or (H*r,) float32."""
    bins = torch.arange(encoding.simcc.simcc_size[axis], device=device, dtype=torch.float32)
    xy = torch.stack([bins, bins], dim=-1)  # both maps are per axis: only column `axis` is read
    u = encoding.heatmap.to_heatmap(encoding.simcc.to_input(xy))[:, axis]
    return u.clamp(0, encoding.heatmap.heatmap_size[axis] - 1)


def marginal_log_prob(heatmaps: Tensor, encoding: HybridEncoding, floor: float) -> tuple[Tensor, Tensor]:
    """1D log-probabilities of the 2D heatmaps' marginals, resampled on the SimCC bins.

    The heatmap is clamped at 0, summed over rows (x profile) and columns (y profile), normalised,
    mixed with ``floor`` of a uniform distribution (so a branch cannot veto a position outright),
    and interpolated (Catmull-Rom on the log, exact for the quadratic log of a Gaussian, so the peak
    does not snap to heatmap pixel centres as linear interpolation would) at every SimCC bin centre via
    the encodings' own geometry (``simcc.to_input`` then ``heatmap.to_heatmap``).

    Shapes: heatmaps ``(B, K, h, w)`` -> ``(log_px (B, K, W*r), log_py (B, K, H*r))`` float32.
    """
    maps = heatmaps.float().clamp_min(0)
    out = []
    for axis, profile in enumerate((maps.sum(-2), maps.sum(-1))):  # (B,K,w), (B,K,h)
        n = encoding.heatmap.heatmap_size[axis]
        p = profile / profile.sum(-1, keepdim=True).clamp_min(1e-12)
        p = (1.0 - floor) * p + floor / n
        out.append(_catmull_rom(p.log(), bins_on_heatmap(encoding, axis, maps.device), n))
    return out[0], out[1]


def _catmull_rom(values: Tensor, u: Tensor, n: int) -> Tensor:
    """Cubic Catmull-Rom interpolation of ``values (..., n)`` at positions ``u (L,)`` in ``[0, n-1]`` -> ``(..., L)``.

    Reproduces quadratics exactly away from the ends (indices are clamped at the borders).  `n`
    is the static length of `values` (a Python int, also under tracing).
    """
    lo = u.floor().long().clamp(0, max(n - 2, 0))
    t = (u - lo.float()).clamp(0, 1)
    p0, p1, p2, p3 = (values[..., (lo + d).clamp(0, n - 1)] for d in (-1, 0, 1, 2))
    return 0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * (p1 - p2) + p3 - p0) * t**3)


class HybridDecoder(Decoder):
    """Decode a hybrid output ``(heatmaps, (x, y))`` into keypoints and scores.

    Args:
        mode: ``"product"`` fuses both branches; ``"heatmap"`` decodes the 2D branch alone (with
            ``heatmap_decoder``); ``"simcc"`` decodes the SimCC branch alone.
        beta: temperature of the SimCC softmax, as trained (``KLDiscreteLoss(beta)``; MMPose: 10).
        heatmap_weight: exponent of the 2D marginal in the product (0 = SimCC alone).
        floor: uniform mixture weight of the 2D marginals.
        window: half-width in bins of the mean around the fused maximum; ``None`` =
            ``ceil(3 * max(simcc.sigma))``.
        heatmap_decoder: the 2D decoder of ``mode="heatmap"`` (default ``DarkDecoder()``).

    Product mode: ``log p(u) = log softmax(beta * s)(u) + heatmap_weight * log m(u)`` per axis, with
    ``s`` the SimCC logits and ``m`` the 2D marginal on the bins; the keypoint is the mean of
    ``p`` within ``window`` bins of its maximum (``SoftArgmaxDecoder(beta=1, window)`` on ``log p``).

    Scores: the 2D heatmap's maximum (modes product and heatmap; ~1 for a confident peak, as the
    2D decoders), ``min(max x, max y)`` of the SimCC logits in mode simcc (as the SimCC decoders).
    """

    accepts = ("hybrid",)
    exportable = True  # when its heatmap_decoder is (see check_exportable)

    def __init__(
        self,
        mode: str = "product",
        beta: float = 10.0,
        heatmap_weight: float = 1.0,
        floor: float = 1e-3,
        window: int | None = None,
        heatmap_decoder: Decoder | None = None,
    ) -> None:
        if mode not in FUSION_MODES:
            raise ValueError(f"HybridDecoder: mode must be one of {FUSION_MODES}, got {mode!r}")
        if not float(beta) > 0 or float(heatmap_weight) < 0 or not 0 < float(floor) < 1:
            raise ValueError(
                "HybridDecoder: need beta > 0, heatmap_weight >= 0, 0 < floor < 1; "
                f"got {beta}, {heatmap_weight}, {floor}"
            )
        self.mode = mode
        self.beta = float(beta)
        self.heatmap_weight = float(heatmap_weight)
        self.floor = float(floor)
        self.window = None if window is None else int(window)
        self.heatmap_decoder = heatmap_decoder if heatmap_decoder is not None else DarkDecoder()

    def decode(self, output: HeadOutput, encoding: HybridEncoding) -> tuple[Tensor, Tensor]:
        """``(heatmaps (B,K,h,w), (x, y))`` -> keypoints (B, K, 2) input px, scores (B, K) float32."""
        self.check(encoding)
        if not (isinstance(output, (tuple, list)) and len(output) == 2 and isinstance(output[1], (tuple, list))):
            raise ValueError(f"HybridDecoder: expects output (heatmaps, (x, y)), got {type(output).__name__}")
        heatmaps, (sx, sy) = output
        if self.mode == "heatmap":
            return self.heatmap_decoder.decode(heatmaps, encoding.heatmap)
        window = self.window or int(math.ceil(3 * max(encoding.simcc.sigma)))
        lx = F.log_softmax(self.beta * sx.float(), dim=-1)
        ly = F.log_softmax(self.beta * sy.float(), dim=-1)
        if self.mode == "simcc":
            kpts, _ = SoftArgmaxDecoder(beta=1.0, window=window).decode((lx, ly), encoding.simcc)
            return kpts, torch.minimum(sx.float().amax(-1), sy.float().amax(-1))
        mx, my = marginal_log_prob(heatmaps, encoding, self.floor)
        fused = (lx + self.heatmap_weight * mx, ly + self.heatmap_weight * my)
        kpts, _ = SoftArgmaxDecoder(beta=1.0, window=window).decode(fused, encoding.simcc)
        return kpts, heatmaps.float().amax(dim=(-2, -1))  # the 2D decoders' score: the channel's maximum
