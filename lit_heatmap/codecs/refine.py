"""Pure-tensor peak finding and sub-pixel refinement shared by the decoders.

All functions take maps flattened over (B, K) -- ``(N, h, w)`` or ``(N, L)`` -- compute in float32
and return coordinates in map pixels (pixel `j` is centred at `j`).

Sub-pixel refinement (DARK's Taylor step, done as a fit): a Gaussian peak is exactly quadratic in
log space, ``log G = c0 + cx*dx + cxx*dx^2 + cy*dy + cyy*dy^2``.  DARK estimates the derivatives of
that quadratic by finite differences on a blurred map; near a border the blur needs pixels that are
not there.  Here the same quadratic is fitted by weighted least squares on the in-map pixels of a
patch around the maximum (out-of-map pixels get weight 0), so:

* perfect Gaussian targets are recovered exactly, at the borders too (float32 rounding only);
* noise is pooled over the patch (the role of DARK's blur): pass 1 weights each pixel by its
  value squared, pass 2 by the fitted model squared -- to first order this is least squares on
  the linear scale (maximum likelihood under additive Gaussian noise);
* pixels below ``floor * peak`` are ignored (their log is dominated by noise);
* if the fit is degenerate (non-negative curvature, non-finite) the integer argmax is kept, and
  the offset is clamped to the patch.
"""

from __future__ import annotations

import torch
from torch import Tensor

TINY = 1e-12


def argmax_2d(maps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """maps (N, h, w) -> column index (N,), row index (N,), max value (N,)."""
    n, h, w = maps.shape
    val, idx = maps.reshape(n, h * w).max(dim=1)
    return idx % w, torch.div(idx, w, rounding_mode="floor"), val


def fit_log_parabola(profile: Tensor, mask: Tensor, floor: float) -> Tensor:
    """Vertex offset of a weighted LS parabola fitted to log(profile) on offsets d = -r..r.

    profile/mask (N, 2r+1), centre sample at index r (the maximum) -> offset (N,) in samples,
    0 where degenerate, clamped to [-r, r].  Pass 1 weights samples by profile^2, pass 2 by the
    fitted model^2; samples outside `mask` or below ``floor * profile[r]`` get weight 0.
    """
    n, p = profile.shape
    r = p // 2
    v = profile.double()
    d = torch.arange(-r, r + 1, device=profile.device, dtype=torch.float64)
    powers = torch.stack([d**k for k in range(5)])  # (5, P)
    peak = v[:, r : r + 1]
    use = mask & (v > floor * peak) & (v > 0)
    logv = torch.where(use, torch.log(v.clamp_min(TINY)), torch.zeros_like(v))
    w = torch.where(use, (v / peak.clamp_min(TINY)) ** 2, torch.zeros_like(v))
    c1 = c2 = torch.zeros(n, dtype=torch.float64, device=profile.device)
    for it in range(2):
        s0, s1, s2, s3, s4 = (w @ powers.T).unbind(1)
        t0, t1, t2 = ((w * logv) @ powers[:3].T).unbind(1)
        det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
        det = torch.where(det.abs() > 1e-300, det, torch.full_like(det, torch.inf))
        c1 = (s0 * (t1 * s4 - t2 * s3) - t0 * (s1 * s4 - s3 * s2) + s2 * (s1 * t2 - t1 * s2)) / det
        c2 = (s0 * (s2 * t2 - s3 * t1) - s1 * (s1 * t2 - t1 * s2) + t0 * (s1 * s3 - s2 * s2)) / det
        if it == 0:
            model = c1.unsqueeze(1) * d + c2.unsqueeze(1) * d * d  # log model minus c0
            model = model - torch.where(use, model, torch.full_like(model, -torch.inf)).amax(1, keepdim=True)
            w = torch.where(use, torch.exp(2.0 * model.clamp(-80.0, 0.0)), torch.zeros_like(v))
    return _offset(c1, c2, r)


def _offset(c1: Tensor, c2: Tensor, radius: int) -> Tensor:
    """Vertex offset -c1 / (2 c2) of a concave parabola, 0 where degenerate, clamped to the patch."""
    ok = (c2 < -1e-12) & torch.isfinite(c1) & torch.isfinite(c2)
    off = -c1 / (2.0 * torch.where(ok, c2, -torch.ones_like(c2)))
    off = torch.where(ok & torch.isfinite(off), off, torch.zeros_like(off))
    return off.clamp(-radius, radius).float()


def refine_2d(maps: Tensor, ix: Tensor, iy: Tensor, radius: int, floor: float = 0.05) -> tuple[Tensor, Tensor]:
    """Sub-pixel peak of maps (N, h, w) around integer (ix, iy) (N,) -> x (N,), y (N,) map px.

    The (2r+1)^2 patch around the maximum (out-of-map pixels zeroed) is collapsed into an x
    profile by summing rows weighted by the patch's centre column, and a y profile by summing
    columns weighted by its centre row.  For a separable Gaussian G(x)G(y) the x profile is
    G(x) times a constant -- also when the patch is cut by a border, since the in-map part of the
    patch is a rectangle -- so the 1D log-parabola fits are exact; weighting by the centre
    row/column is a matched filter, which keeps the noise pooling close to a full 2D fit.
    """
    n, h, w = maps.shape
    d = torch.arange(-radius, radius + 1, device=maps.device)
    px, py = ix.unsqueeze(1) + d, iy.unsqueeze(1) + d  # (N, P)
    mx, my = (px >= 0) & (px < w), (py >= 0) & (py < h)
    flat = (py.clamp(0, h - 1).unsqueeze(2) * w + px.clamp(0, w - 1).unsqueeze(1)).reshape(n, -1)
    v = maps.reshape(n, h * w).gather(1, flat).reshape(n, 2 * radius + 1, 2 * radius + 1).float()
    v = v * (my.unsqueeze(2) & mx.unsqueeze(1))
    wy = v[:, :, radius].clamp_min(0)  # weight of each row (dy)
    wx = v[:, radius, :].clamp_min(0)  # weight of each column (dx)
    prof_x = (v * wy.unsqueeze(2)).sum(1)
    prof_y = (v * wx.unsqueeze(1)).sum(2)
    x = ix.float() + fit_log_parabola(prof_x, mx, floor)
    y = iy.float() + fit_log_parabola(prof_y, my, floor)
    return x, y


def refine_1d(vectors: Tensor, idx: Tensor, radius: int, floor: float = 0.05) -> Tensor:
    """Sub-bin peak of vectors (N, L) around integer idx (N,) -> (N,) in bins."""
    n, length = vectors.shape
    d = torch.arange(-radius, radius + 1, device=vectors.device)
    p = idx.unsqueeze(1) + d
    mask = (p >= 0) & (p < length)
    values = vectors.gather(1, p.clamp(0, length - 1))
    return idx.float() + fit_log_parabola(values, mask, floor)


def soft_argmax_1d(vectors: Tensor, beta: float, window: int | None = None) -> Tensor:
    """Differentiable expectation of softmax(beta * v) over bins.  (N, L) -> (N,) bins.

    With `window`, only bins within `window` of the (non-differentiable) argmax take part.
    """
    logits = beta * vectors.float()
    grid = torch.arange(vectors.shape[-1], device=vectors.device, dtype=torch.float32)
    if window is not None:
        idx = vectors.detach().argmax(dim=-1, keepdim=True)
        far = (grid - idx).abs() > window
        logits = logits.masked_fill(far, -torch.inf)
    prob = torch.softmax(logits, dim=-1)
    return (prob * grid).sum(-1)


def quarter_offset_2d(maps: Tensor, ix: Tensor, iy: Tensor) -> tuple[Tensor, Tensor]:
    """HRNet: move 0.25 px toward the higher neighbour along x and y (only where both exist)."""
    n, h, w = maps.shape
    flat = maps.reshape(n, h * w).float()

    def step(idx: Tensor, size: int, stride: Tensor | int, base: Tensor) -> Tensor:
        ok = (idx > 0) & (idx < size - 1)
        lo = flat.gather(1, (base - stride).clamp(0, h * w - 1).unsqueeze(1)).squeeze(1)
        hi = flat.gather(1, (base + stride).clamp(0, h * w - 1).unsqueeze(1)).squeeze(1)
        return torch.where(ok, 0.25 * torch.sign(hi - lo), torch.zeros_like(lo))

    base = iy * w + ix
    return ix.float() + step(ix, w, 1, base), iy.float() + step(iy, h, w, base)
