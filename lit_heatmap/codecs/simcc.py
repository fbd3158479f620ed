"""SimCC: keypoints -> two 1D Gaussian label vectors (x: W*r bins, y: H*r bins)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .heatmap2d import (
    OUTSIDE_SIGMAS,
    as_size,
    check_keypoint_shapes,
    gaussian_1d,
    out_dtype,
)


class SimCC:
    """SimCC labels (Li et al. 2022) with the Gaussian at the exact sub-bin centre.

    Args:
        input_size: network input `(width, height)` in pixels.
        split_ratio: bins per input pixel `r`; the vectors have `W*r` and `H*r` bins (integers).
        sigma: Gaussian std in **bins**, a scalar or per axis `(sigma_x, sigma_y)`.
        label_smoothing: `eps`; labelled rows become ``(1 - eps) * g + eps / n_bins``.

    Geometry: bin `b` is centred on input x with ``b = (x + 0.5) * r - 0.5`` (pixel areas aligned,
    so bin centres subdivide pixels evenly and a horizontal flip is an exact reversal).  MMPose
    rounds the centre to an integer bin (up to 0.25 px error at r=2); here it is not rounded.
    Peak value 1 (before smoothing); weight rules as :class:`Heatmap2D` (3 sigma in bins).
    """

    kind = "simcc"

    def __init__(
        self,
        input_size: Sequence[int],
        split_ratio: float = 2.0,
        sigma: float | Sequence[float] = (4.9, 5.66),
        label_smoothing: float = 0.0,
    ) -> None:
        name = type(self).__name__
        self.input_size = as_size(input_size, "input_size", name)
        self.split_ratio = float(split_ratio)
        if not self.split_ratio > 0:
            raise ValueError(f"{name}: split_ratio must be > 0, got {split_ratio!r}")
        bins = [s * self.split_ratio for s in self.input_size]
        if any(abs(b - round(b)) > 1e-6 for b in bins):
            raise ValueError(f"{name}: input_size * split_ratio must be integers, got {bins}")
        self.simcc_size: tuple[int, int] = (int(round(bins[0])), int(round(bins[1])))
        if isinstance(sigma, (int, float)):
            sigma = (sigma, sigma)
        sx, sy = (float(s) for s in sigma)
        if not (sx > 0 and sy > 0):
            raise ValueError(f"{name}: sigma must be > 0 (bins), got {sigma!r}")
        self.sigma: tuple[float, float] = (sx, sy)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"{name}: label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def __repr__(self) -> str:
        return (
            f"SimCC(input_size={self.input_size}, split_ratio={self.split_ratio}, "
            f"sigma={self.sigma}, label_smoothing={self.label_smoothing})"
        )

    def affine(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(scale, offset)`` per axis (x, y), Python floats: the map of :meth:`to_bins`,
        ``bins = input * r + (r - 1) / 2``."""
        r = self.split_ratio
        return (r, r), (0.5 * r - 0.5, 0.5 * r - 0.5)

    def to_bins(self, xy: Tensor) -> Tensor:
        """Input px -> bin coordinates.  xy (..., 2) -> (..., 2) float32."""
        return (xy.float() + 0.5) * self.split_ratio - 0.5

    def to_input(self, xy: Tensor) -> Tensor:
        """Bin coordinates -> input px, the exact inverse of :meth:`to_bins`."""
        return (xy.float() + 0.5) / self.split_ratio - 0.5

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """Keypoints (B, K, 2) input px, visibility (B, K) -> ((x (B,K,W*r), y (B,K,H*r)), weight (B,K)).

        Weight-0 rows (unlabelled, non-finite, or centre > 3 sigma outside the vector) are zero.
        """
        check_keypoint_shapes(keypoints, visibility, type(self).__name__)
        mu = self.to_bins(keypoints)
        finite = torch.isfinite(mu).all(-1)
        mu = torch.where(finite.unsqueeze(-1), mu, torch.zeros_like(mu))
        sizes = torch.tensor(self.simcc_size, device=mu.device, dtype=torch.float32)
        margin = OUTSIDE_SIGMAS * torch.tensor(self.sigma, device=mu.device)
        inside = ((mu >= -0.5 - margin) & (mu <= sizes - 0.5 + margin)).all(-1)
        weight = ((visibility > 0) & finite & inside).float()
        dtype = out_dtype(keypoints)
        vectors = []
        for axis in range(2):
            n = self.simcc_size[axis]
            g = gaussian_1d(mu[..., axis], n, self.sigma[axis])
            if self.label_smoothing > 0:
                g.mul_(1.0 - self.label_smoothing).add_(self.label_smoothing / n)
            vectors.append(g.mul_(weight.unsqueeze(-1)).to(dtype))
        return (vectors[0], vectors[1]), weight.to(dtype)
