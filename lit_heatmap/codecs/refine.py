"""Pure-tensor peak finding and sub-pixel refinement shared by the decoders.

All functions take maps flattened over (B, K) -- ``(N, h, w)`` or ``(N, L)`` -- compute in float32
(small sums in float64) and return coordinates in map pixels (pixel `j` is centred at `j`).

Sub-pixel refinement (DARK's Taylor step, done as a fit).  A Gaussian peak is exactly a parabola
in log space.  DARK blurs the whole map, takes the log and one Newton step from finite differences
at the maximum; near a border the blur reads padding and biases the estimate by pixels (MMPose
skips those points).  Here:

* a (2r+1) window around the maximum, shifted inward at the borders, holds only in-map pixels;
* 2D windows are collapsed into an x and a y profile (rows / columns summed with the peak's own
  column / row as weights -- a matched filter); for a separable Gaussian each profile is the 1D
  Gaussian times a constant, also when the window is cut by a border;
* log(profile) is fitted by a weighted least-squares parabola: pass 1 weights each sample by its
  value squared, pass 2 by the fitted model squared, which to first order is least squares on the
  linear scale (maximum likelihood under additive Gaussian noise); samples below ``floor * max``
  are left out (their log is noise);
* so perfect Gaussian targets are recovered exactly everywhere (float rounding only), noise is
  pooled over the window (the role of DARK's blur), and a degenerate fit (not concave) keeps the
  integer argmax; the vertex is kept within 1 px (2D) or r/2 bins (1D) of the argmax.
"""

from __future__ import annotations

import torch
from torch import Tensor

TINY = 1e-12
FIT_DTYPE = torch.float64  # float32 sums would be ~15% faster but lose exactness (~0.003 px)


def _block_size(length: int) -> int:
    """A divisor of `length` in [32, 128] (multiple of 16) for the two-level argmax; 0 if none."""
    for bs in range(128, 31, -16):
        if length % bs == 0 and length // bs >= 2:
            return bs
    return 0


def argmax_flat(flat: Tensor) -> tuple[Tensor, Tensor]:
    """First-occurrence argmax of each row of flat (N, L) -> (value (N,), index (N,) long).

    Two levels -- a vectorised ``amax`` over blocks of ~100 values, then ``max`` inside the
    winning block -- give the same result as ``flat.max(1)`` about 3x faster on CPU, where
    ``max`` with indices is not vectorised.
    """
    n, length = flat.shape
    bs = _block_size(length)
    if bs == 0 or n == 0:
        return flat.max(dim=1)
    blocks = flat.reshape(n, length // bs, bs)
    best = blocks.amax(dim=2).max(dim=1)[1]  # first block holding the maximum
    inner = blocks[torch.arange(n, device=flat.device), best]  # (N, bs); indexing beats gather on CPU
    val, j = inner.max(dim=1)
    return val, best * bs + j


def argmax_2d(maps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """maps (N, h, w) -> column index (N,), row index (N,), max value (N,) (first occurrence)."""
    n, h, w = maps.shape
    val, idx = argmax_flat(maps.reshape(n, h * w))
    return idx % w, torch.div(idx, w, rounding_mode="floor"), val


def fit_log_parabola(profile: Tensor, floor: float, passes: int = 2) -> Tensor:
    """Vertex of a weighted LS parabola fitted to log(profile) at offsets d = -r..r.

    profile (N, 2r+1) -> vertex offset (N,) from the centre sample, in samples; 0 where the fit
    is degenerate (not concave, too few samples), clamped to [-r - 0.5, r + 0.5].  Pass 1 weights
    samples by (profile / max)^2, pass 2 by the fitted model^2; samples below ``floor * max`` get
    weight 0.  Per-sample work in float32, the 3x3 solve (Cramer's rule) in float64.
    """
    n, p = profile.shape
    r = p // 2
    v = profile.to(FIT_DTYPE)
    d = torch.arange(-r, r + 1, device=profile.device, dtype=FIT_DTYPE)
    powers = torch.stack([d**k for k in range(5)], dim=1)  # (P, 5)
    peak = v.amax(1, keepdim=True).clamp_min(TINY)
    use = (v > floor * peak) & (v > 0)
    zero = torch.zeros((), device=v.device, dtype=FIT_DTYPE)
    logv = torch.where(use, torch.log(v.clamp_min(TINY) / peak), zero)
    w = torch.where(use, (v / peak).square(), zero)
    c1 = c2 = torch.zeros(n, dtype=torch.float64, device=profile.device)
    for it in range(passes):
        s0, s1, s2, s3, s4 = (w @ powers).double().unbind(1)
        t0, t1, t2 = ((w * logv) @ powers[:, :3]).double().unbind(1)
        # Cramer's rule for [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]] (c0 c1 c2) = (t0 t1 t2); the vertex
        # -c1 / (2 c2) does not need the determinant, only its sign (> 0 unless degenerate).
        m1, m2 = s1 * s4 - s3 * s2, s1 * s3 - s2 * s2
        det = s0 * (s2 * s4 - s3 * s3) - s1 * m1 + s2 * m2
        u = s1 * t2 - t1 * s2
        c1 = s0 * (t1 * s4 - t2 * s3) - t0 * m1 + s2 * u
        c2 = s0 * (s2 * t2 - s3 * t1) - s1 * u + t0 * m2
        c2 = torch.where(det > 1e-9 * s0 * s4, c2, torch.zeros_like(c2))
        if it + 1 < passes:
            scale = det.clamp_min(TINY)
            model = torch.stack([c1 / scale, c2 / scale], 1).to(FIT_DTYPE) @ powers[:, 1:3].T  # log model - c0
            model = model - torch.where(use, model, torch.full_like(model, -torch.inf)).amax(1, keepdim=True)
            w = torch.where(use, torch.exp(2.0 * model.clamp(-80.0, 0.0)), zero)
    return _offset(c1, c2, r)


def _offset(c1: Tensor, c2: Tensor, radius: int) -> Tensor:
    """Vertex offset -c1 / (2 c2) of a concave parabola, 0 where degenerate, clamped to the
    window's extent [-r - 0.5, r + 0.5] (a peak half a pixel outside the map stays reachable)."""
    ok = (c2 < 0) & torch.isfinite(c1) & torch.isfinite(c2)
    off = -c1 / (2.0 * torch.where(ok, c2, -torch.ones_like(c2)))
    off = torch.where(ok & torch.isfinite(off), off, torch.zeros_like(off))
    return off.clamp(-radius - 0.5, radius + 0.5).float()


def _window(idx: Tensor, radius: int, size: int) -> tuple[Tensor, int]:
    """Centre of the (2r+1) window around idx, shifted to lie inside [0, size); r shrinks for tiny maps."""
    radius = max(0, min(radius, (size - 1) // 2))
    return idx.clamp(radius, size - 1 - radius), radius


def refine_2d(maps: Tensor, ix: Tensor, iy: Tensor, radius: int, floor: float = 0.05) -> tuple[Tensor, Tensor]:
    """Sub-pixel peak of maps (N, h, w) around integer (ix, iy) (N,) -> x (N,), y (N,) map px.

    A (2r+1)^2 window around the maximum -- shifted inward at the borders so that it holds only
    in-map pixels -- is collapsed into an x profile by summing its rows weighted by the column
    through the maximum, and a y profile by summing its columns weighted by the row through the
    maximum.  For a separable Gaussian G(x)G(y) the x profile is G(x) times a constant, so the 1D
    log-parabola fits are exact, borders included; weighting by the peak's own row/column is a
    matched filter, which keeps the noise pooling close to a full 2D fit at a fraction of its cost.
    """
    n, h, w = maps.shape
    r = min(_window(ix, radius, w)[1], _window(iy, radius, h)[1])
    cx, cy = ix.clamp(r, w - 1 - r), iy.clamp(r, h - 1 - r)
    d = torch.arange(-r, r + 1, device=maps.device)
    offsets = (d.unsqueeze(1) * w + d.unsqueeze(0)).reshape(-1)  # (P*P,), row-major
    flat = (cy * w + cx).unsqueeze(1) + offsets
    p = 2 * r + 1
    v = maps.reshape(n, h * w).gather(1, flat).reshape(n, p, p).float()
    wy = v.gather(2, (ix - cx + r).view(n, 1, 1).expand(n, p, 1)).clamp_min(0)  # (N, P, 1) row weights
    wx = v.gather(1, (iy - cy + r).view(n, 1, 1).expand(n, 1, p)).clamp_min(0)  # (N, 1, P) column weights
    prof_x = torch.bmm(wy.transpose(1, 2), v).squeeze(1)  # sum_rows wy * v -> (N, P) over dx
    prof_y = torch.bmm(v, wx.transpose(1, 2)).squeeze(2)  # sum_cols wx * v -> (N, P) over dy
    off = fit_log_parabola(torch.cat([prof_x, prof_y]), floor)  # both axes at once
    # keep the result within 1 px of the integer maximum, like a Taylor step from it: a noisy
    # half-Gaussian (peak in a corner) can give a nearly flat parabola with a far-away vertex
    x = torch.minimum(torch.maximum(cx.float() + off[:n], ix - 1.0), ix + 1.0)
    y = torch.minimum(torch.maximum(cy.float() + off[n:], iy - 1.0), iy + 1.0)
    return x, y


def refine_1d(
    vectors: Tensor,
    idx: Tensor,
    radius: int,
    floor: float = 0.05,
    max_shift: float | None = None,
    passes: int = 2,
) -> Tensor:
    """Sub-bin peak of vectors (N, L) around integer idx (N,) -> (N,) in bins (same window rule).

    The result stays within `max_shift` (default ``max(1, r/2)``) samples of idx.
    """
    n, length = vectors.shape
    c, r = _window(idx, radius, length)
    values = vectors.gather(1, c.unsqueeze(1) + torch.arange(-r, r + 1, device=vectors.device))
    x = c.float() + fit_log_parabola(values.float(), floor, passes=passes)
    shift = max(1.0, r / 2) if max_shift is None else max_shift  # SimCC bins are fine: allow r/2
    return torch.minimum(torch.maximum(x, idx - shift), idx + shift)


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
