"""Heatmap2D: keypoints -> 2D Gaussian heatmaps (MSRA, unbiased/DARK, UDP)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

MODES = ("msra", "unbiased", "udp")

# A keypoint whose Gaussian centre lies more than this many sigmas outside the map's extent
# ([-0.5, size - 0.5] in heatmap px) is "wholly outside": every in-map value is < exp(-4.5) ~ 0.011.
OUTSIDE_SIGMAS = 3.0
MIN_EXPONENT = 40.0


def as_size(value: Sequence[int] | int, name: str, owner: str) -> tuple[int, int]:
    """Validate a `(width, height)` pair of positive ints (a scalar means a square)."""
    if isinstance(value, int):
        value = (value, value)
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{owner}: {name} must be a (width, height) pair, got {value!r}") from err
    if w <= 0 or h <= 0 or (w, h) != tuple(float(v) for v in value):
        raise ValueError(f"{owner}: {name} must be two positive integers (width, height), got {value!r}")
    return w, h


def out_dtype(keypoints: Tensor) -> torch.dtype:
    """Targets follow a floating keypoint dtype (fp16/bf16/fp32/fp64); integer keypoints give fp32."""
    return keypoints.dtype if keypoints.is_floating_point() else torch.float32


def check_keypoint_shapes(keypoints: Tensor, visibility: Tensor, owner: str) -> None:
    """Shape check shared by the encodings: keypoints (B, K, 2), visibility (B, K)."""
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"{owner}.encode: keypoints must be (B, K, 2), got {tuple(keypoints.shape)}")
    if tuple(visibility.shape) != tuple(keypoints.shape[:2]):
        raise ValueError(
            f"{owner}.encode: visibility must be (B, K) = {tuple(keypoints.shape[:2])}, got {tuple(visibility.shape)}"
        )


def gaussian_1d(mu: Tensor, length: int, sigma: float | Tensor) -> Tensor:
    """exp(-(i - mu)^2 / (2 sigma^2)) for i = 0..length-1.  mu (...,) -> (..., length), float32.

    The exponent is clamped at -MIN_EXPONENT (values < 4e-18 become 4e-18) so that neither this
    profile nor the 2D outer product of two of them produces float32 denormals, which make CPU
    arithmetic 10x slower.
    """
    grid = torch.arange(length, device=mu.device, dtype=torch.float32)
    d = grid - mu.unsqueeze(-1)  # the only allocation: the rest works in place
    return d.square_().mul_(-0.5 / (sigma * sigma)).clamp_min_(-MIN_EXPONENT).exp_()


class Heatmap2D:
    """Gaussian heatmap encoding, one channel per keypoint, peak value 1.

    Args:
        input_size: network input `(width, height)` in pixels.
        heatmap_size: heatmap `(width, height)`; default `input_size // stride`.
        sigma: Gaussian standard deviation in **heatmap** pixels.
        mode: ``"msra"`` (centre snapped to the nearest heatmap pixel, HRNet/SimpleBaseline: its
            quantisation costs ~1.5 input px mean at stride 4, which is the method's own error),
            ``"unbiased"`` (exact sub-pixel centre, DARK) or ``"udp"`` (align-corners scale
            ``(heatmap - 1) / (input - 1)``, Huang et al. 2020).
        stride: only used when `heatmap_size` is None.

    Geometry (pixel centres, see the package docstring): :meth:`affine` is the only place the scale
    lives; ``to_heatmap`` / ``to_input`` apply it, and encode, every decoder and :func:`flip_output`
    go through them.
    """

    kind = "heatmap"

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int] | None = None,
        sigma: float = 2.0,
        mode: str = "unbiased",
        stride: int = 4,
    ) -> None:
        name = type(self).__name__
        self.input_size = as_size(input_size, "input_size", name)
        if heatmap_size is None:
            if int(stride) <= 0:
                raise ValueError(f"{name}: stride must be a positive int, got {stride!r}")
            heatmap_size = (self.input_size[0] // int(stride), self.input_size[1] // int(stride))
        self.heatmap_size = as_size(heatmap_size, "heatmap_size", name)
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
        if mode == "udp" and (min(self.heatmap_size) < 2 or min(self.input_size) < 2):
            raise ValueError(f"{name}: mode='udp' needs sizes >= 2, got {self.input_size}, {self.heatmap_size}")
        if not float(sigma) > 0:
            raise ValueError(f"{name}: sigma must be > 0 (heatmap px), got {sigma!r}")
        self.sigma = float(sigma)
        self.mode = mode

    def __repr__(self) -> str:
        return (
            f"Heatmap2D(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"sigma={self.sigma}, mode={self.mode!r})"
        )

    def affine(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(scale, offset)`` per axis (x, y), Python floats: heatmap = input * scale + offset."""
        (iw, ih), (hw, hh) = self.input_size, self.heatmap_size
        if self.mode == "udp":
            return ((hw - 1) / (iw - 1), (hh - 1) / (ih - 1)), (0.0, 0.0)
        scale = (hw / iw, hh / ih)  # pixel areas aligned: input [-0.5, W-0.5] <-> heatmap [-0.5, w-0.5]
        return scale, (0.5 * scale[0] - 0.5, 0.5 * scale[1] - 0.5)

    def to_heatmap(self, xy: Tensor) -> Tensor:
        """Input px -> heatmap px (continuous, before MSRA rounding).  xy (..., 2) -> (..., 2) float32."""
        (sx, sy), (ox, oy) = self.affine()
        xy = xy.float()
        return torch.stack([xy[..., 0] * sx + ox, xy[..., 1] * sy + oy], dim=-1)

    def to_input(self, xy: Tensor) -> Tensor:
        """Heatmap px -> input px, the exact inverse of :meth:`to_heatmap`.  (..., 2) -> (..., 2)."""
        (sx, sy), (ox, oy) = self.affine()
        xy = xy.float()
        return torch.stack([(xy[..., 0] - ox) / sx, (xy[..., 1] - oy) / sy], dim=-1)

    def centres(self, keypoints: Tensor) -> Tensor:
        """Gaussian centres in heatmap px as encode places them.  (B, K, 2) -> (B, K, 2).

        MSRA: the nearest pixel, exact .5 ties rounded toward the map's centre so that the
        rounding commutes with a horizontal flip.
        """
        mu = self.to_heatmap(keypoints)
        if self.mode != "msra":
            return mu
        up = torch.floor(mu + 0.5)
        centre = torch.tensor([(s - 1) / 2 for s in self.heatmap_size], device=mu.device)
        tie = (mu + 0.5 == up) & (mu > centre)
        return up - tie.float()

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[Tensor, Tensor]:
        """Keypoints (B, K, 2) input px, visibility (B, K) -> target (B, K, h, w), weight (B, K).

        Weight is 1 for labelled keypoints (visibility > 0, finite coordinates) whose Gaussian
        centre lies within 3 sigma of the map's extent; partly-outside ones keep weight 1 and a
        clipped Gaussian.  Weight-0 channels are all zero.  Computed in float32 as the outer
        product of a y-profile (B,K,h,1) and an x-profile (B,K,1,w); returned in the keypoints'
        floating dtype.
        """
        check_keypoint_shapes(keypoints, visibility, type(self).__name__)
        w, h = self.heatmap_size
        mu = self.centres(keypoints)
        finite = torch.isfinite(mu).all(-1)
        mu = torch.where(finite.unsqueeze(-1), mu, torch.zeros_like(mu))
        margin = OUTSIDE_SIGMAS * self.sigma
        hi = torch.tensor([w - 0.5 + margin, h - 0.5 + margin], device=mu.device)
        inside = ((mu >= -0.5 - margin) & (mu <= hi)).all(-1)
        weight = ((visibility > 0) & finite & inside).float()
        gx = gaussian_1d(mu[..., 0], w, self.sigma) * weight.unsqueeze(-1)
        gy = gaussian_1d(mu[..., 1], h, self.sigma)
        target = gy.unsqueeze(-1) * gx.unsqueeze(-2)
        dtype = out_dtype(keypoints)
        return target.to(dtype), weight.to(dtype)
