"""Pure-tensor peak finding and sub-pixel refinement shared by the decoders.

All functions take maps flattened over (B, K) -- ``(N, h, w)`` or ``(N, L)`` -- compute in float32
(the fit's solvers are solved once, in float64) and return coordinates in map pixels (pixel `j` is
centred at `j`).

Export.  Every function traces (``torch.jit.trace``, ``torch.onnx.export``) with N dynamic: N is only
read through ``reshape(-1, ...)`` and tensor ops, and the Python ints that shape the computation (the
window radius, solver sizes) come from the caller, who reads them from the encoding's static geometry
-- under tracing every ``tensor.shape`` is a traced value, so Python control flow on it would bake
the example's sizes in.  The only eager-only branch is the CPU fast path of :func:`argmax_flat`.

Sub-pixel refinement (DARK's Taylor step, done as a fit).  A Gaussian peak is exactly a parabola
in log space.  DARK blurs the whole map, takes the log and one Newton step from finite differences
at the maximum; near a border the blur reads padding and biases the estimate by pixels (MMPose
skips those points).  Here:

* a (2r+1) window around the maximum, shifted inward at the borders, holds only in-map pixels;
* a 2D window is collapsed into an x profile (its rows summed, weighted by a Gaussian of the
  encoding's sigma centred on the maximum's row) and a y profile (its columns, likewise); for a
  separable Gaussian each profile is the 1D Gaussian times a constant, also when the window is cut
  by a border, and the weighting pools the noise of the rows near the peak (the role of DARK's blur);
* log(profile) is fitted by a least-squares parabola weighted by ``g^2``, g the same Gaussian
  centred on the maximum: under additive noise of constant variance ``Var(log v) ~ 1/v^2``, so
  these are (to the half pixel by which the integer maximum may be off) the maximum-likelihood
  weights, fixed in advance instead of re-estimated from the noisy data.  Fixed weights make the
  fit linear: one precomputed (2, 2r+1) solver per position of the maximum in the window
  (:func:`parabola_solvers`) maps the log-samples to the parabola's slope and curvature.  Values
  below ``floor * max`` are raised to it before the log (the log of noise near zero is
  unbounded); with ``floor = 1e-3`` they lie > 3.7 sigma from the peak, where the weights are
  < 1e-6, so Gaussian targets stay exact to < 1e-3 px;
* so perfect Gaussian targets are recovered exactly everywhere (float rounding only), borders
  included, a parabola that is not concave keeps the integer argmax, and the vertex is kept
  within 1 px (2D) or r/2 bins (1D) of the argmax.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch
from torch import Tensor

TINY = 1e-12
FLOOR = 1e-3  # default: samples below FLOOR * max are raised to it before the log


def _block_size(length: int) -> int:
    """A divisor of `length` in [32, 128] (multiple of 16) for the two-level argmax; 0 if none."""
    for bs in range(128, 31, -16):
        if length % bs == 0 and length // bs >= 2:
            return bs
    return 0


def argmax_flat(flat: Tensor) -> tuple[Tensor, Tensor]:
    """First-occurrence argmax of each row of flat (N, L) -> (value (N,), index (N,) long).

    Two levels -- a vectorised ``amax`` over blocks of ~100 values, then ``max`` inside the
    winning block (fetched as a contiguous row) -- give the same result as ``flat.max(1)`` about
    5x faster on CPU, where ``max`` with indices is not vectorised.  Under tracing (export) plain
    ``flat.max(1)``: ONNX ``ArgMax`` also keeps the first occurrence, and the block size would
    need ``L`` as a Python int.
    """
    if torch.jit.is_tracing():
        return flat.max(dim=1)
    n, length = flat.shape
    bs = _block_size(length)
    if bs == 0:
        return flat.max(dim=1)
    nb = length // bs
    blocks = flat.contiguous().reshape(n * nb, bs)
    best = blocks.reshape(n, nb, bs).amax(dim=2).argmax(dim=1)  # first block holding the maximum
    val, j = blocks.index_select(0, best + torch.arange(0, n * nb, nb, device=flat.device)).max(dim=1)
    return val, best * bs + j


def argmax_2d(maps: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """maps (N, h, w) -> column index (N,), row index (N,), max value (N,) (first occurrence)."""
    n, h, w = maps.shape
    val, idx = argmax_flat(maps.reshape(n, h * w))
    return idx % w, torch.div(idx, w, rounding_mode="floor"), val


def gaussian_table(
    size: int, sigma: float, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Tensor:
    """(size, size) table whose row j is exp(-(i - j)^2 / (2 sigma^2)), i = 0..size-1."""
    i = torch.arange(size, device=device, dtype=dtype)
    return torch.exp((i - i.unsqueeze(1)).square() * (-0.5 / (sigma * sigma)))


@functools.lru_cache(maxsize=64)
def _parabola_solvers(size: int, sigma: float) -> np.ndarray:
    """The solvers of :func:`parabola_solvers` as a float32 NumPy array (cached: plain data, which
    no tracer or fake-tensor mode can leak into the cache)."""
    d = np.arange(size, dtype=np.float64) - size // 2
    basis = np.stack([np.ones_like(d), d, d * d], axis=1)  # (P, 3)
    # weights floored at 1e-12 so that a tiny sigma still leaves a solvable (if peaked) system
    table = np.exp((d - d[:, None]) ** 2 * (-0.5 / (sigma * sigma)))  # gaussian_table in float64
    weight = np.maximum(table * table, 1e-12)  # (P, P), row j
    normal = np.einsum("jd,da,db->jab", weight, basis, basis)  # (P, 3, 3)
    solvers = np.linalg.solve(normal, np.einsum("jd,da->jad", weight, basis))  # (P, 3, P)
    return np.ascontiguousarray(solvers[:, 1:], dtype=np.float32)


def parabola_solvers(size: int, sigma: float, device: torch.device) -> Tensor:
    """(size, 2, size) float32: ``solvers[j] @ y`` = (c1, c2) of the least-squares parabola
    ``c0 + c1 d + c2 d^2`` through samples y at d = -r..r, weighted by ``g_j^2`` where g_j is
    row j of :func:`gaussian_table` (a Gaussian centred on sample j).  Needs size >= 3; solved
    once per (size, sigma), in float64 with NumPy (not every device has float64), and wrapped
    without a copy on the CPU; under tracing the result is a constant of the graph."""
    with warnings.catch_warnings():  # a graph constant under tracing, as intended: nothing to warn about
        warnings.filterwarnings(
            "ignore", "torch.from_numpy results are registered as constants", torch.jit.TracerWarning
        )
        return torch.from_numpy(_parabola_solvers(size, float(sigma))).to(device)


def fit_log_parabola(profile: Tensor, peak_at: Tensor, radius: int, sigma: float, floor: float) -> Tensor:
    """Vertex of the weighted LS parabola through log(profile) at offsets d = -r..r.

    profile (N, 2r+1) with r = `radius`, peak_at (N,) the sample of each profile's integer maximum
    -> vertex offset (N,) float32 from the centre sample, in samples.  Weights: a Gaussian of
    `sigma` (samples) centred on ``peak_at``, squared (module docstring).  Values below
    ``floor * max`` are raised to it before the log.  Where the parabola is not concave, the
    maximum's own offset ``peak_at - r`` (the integer argmax is kept); clamped to the window's
    extent [-r - 0.5, r + 0.5] (a peak half a pixel outside the map stays reachable).
    """
    r = radius
    low = (floor * profile.amax(1, keepdim=True)).clamp_min(TINY)
    coef = torch.bmm(
        parabola_solvers(2 * r + 1, float(sigma), profile.device)[peak_at],
        torch.maximum(profile, low).log().unsqueeze(2),
    )
    c1, c2 = coef[:, 0, 0], coef[:, 1, 0]
    off = c1 / (-2.0 * c2)
    ok = (c2 < 0) & ~off.isnan()
    return torch.where(ok, off, peak_at - float(r)).clamp(-r - 0.5, r + 0.5)


def fit_radius(radius: int, *sizes: int) -> int:
    """The window radius, shrunk so that a (2r+1) window fits in every size (0: nothing to fit).

    Sizes are Python ints -- the encoding's map size, not a tensor's shape (traced under export).
    """
    return max(0, min(radius, *((s - 1) // 2 for s in sizes)))


def refine_2d(
    maps: Tensor, ix: Tensor, iy: Tensor, radius: int, sigma: float, floor: float = FLOOR
) -> tuple[Tensor, Tensor]:
    """Sub-pixel peak of maps (N, h, w) around integer (ix, iy) (N,) -> x (N,), y (N,) map px.

    A (2r+1)^2 window around the maximum -- shifted inward at the borders so that it holds only
    in-map pixels -- is collapsed into an x and a y profile with Gaussian(sigma) weights centred
    on the maximum's row / column, and each log-profile gets a weighted parabola fit (module
    docstring).  Exact for a separable Gaussian G(x)G(y), borders included.  `radius` must fit
    the map (:func:`fit_radius`); 0 keeps the integer maximum.
    """
    _, h, w = maps.shape
    r = radius
    if r == 0:  # a map 1 or 2 px wide or high: nothing to fit
        return ix.float(), iy.float()
    p = 2 * r + 1
    cx, cy = ix.clamp(r, w - 1 - r), iy.clamp(r, h - 1 - r)  # window centres
    # one gather per map: the flat offsets of a (p, p) window, added to its top-left pixel
    grid = torch.arange(p, device=maps.device)
    offsets = (grid.unsqueeze(1) * w + grid).reshape(1, p * p)
    first = (cy - r) * w + (cx - r)
    win = maps.reshape(-1, h * w).gather(1, first.unsqueeze(1) + offsets).reshape(-1, p, p).float()  # (N, P, P)
    jx, jy = ix - cx + r, iy - cy + r  # the maximum's sample in the window
    table = gaussian_table(p, sigma, maps.device)
    prof_x = torch.bmm(table[jy].unsqueeze(1), win).squeeze(1)  # rows summed -> (N, P) over dx
    prof_y = torch.bmm(win, table[jx].unsqueeze(2)).squeeze(2)  # columns summed -> (N, P) over dy
    off = fit_log_parabola(torch.cat([prof_x, prof_y]), torch.cat([jx, jy]), r, sigma, floor).reshape(2, -1)
    # within 1 px of the integer maximum, like a Taylor step from it: a noisy half-Gaussian (peak
    # in a corner) can give a nearly flat parabola with a far-away vertex
    x = torch.minimum(torch.maximum(cx + off[0], ix - 1.0), ix + 1.0)
    y = torch.minimum(torch.maximum(cy + off[1], iy - 1.0), iy + 1.0)
    return x, y


def refine_1d(
    vectors: Tensor,
    idx: Tensor,
    radius: int,
    sigma: float,
    floor: float = FLOOR,
    max_shift: float | None = None,
) -> Tensor:
    """Sub-bin peak of vectors (N, L) around integer idx (N,) -> (N,) in bins (same window and
    weights as :func:`refine_2d`, in 1D; `radius` must fit L, see :func:`fit_radius`).  The
    result stays within `max_shift` (default ``max(1, r/2)``) samples of idx.
    """
    length = vectors.shape[1]
    r = radius
    if r == 0:
        return idx.float()
    c = idx.clamp(r, length - 1 - r)
    values = vectors.gather(1, c.unsqueeze(1) + torch.arange(-r, r + 1, device=vectors.device)).float()
    x = c + fit_log_parabola(values, idx - c + r, r, sigma, floor)
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
