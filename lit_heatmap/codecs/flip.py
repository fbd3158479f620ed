"""Flip test: mirror network outputs horizontally and swap left/right channels.

A horizontally flipped input image (``image.flip(-1)``) moves input x to ``W - 1 - x``.  For an
encoding with the affine map ``u = a*x + b`` (input px -> heatmap px or bins) this lands the peak
at ``u' = a*(W - 1) + 2b - u``, while reversing an `n`-pixel map sends `u` to ``n - 1 - u``; the
output must be shifted by ``flip_shift = a*(W - 1) + 2b - (n - 1)``.  MMPose's ``x / stride`` map
needs ``1 - 1/stride`` px (HRNet's "shift by 1 px" approximates it).  The codecs here align pixel
areas (non-UDP) or corners (UDP), for which that shift is exactly 0 in every mode and for SimCC:
flipping is a plain reversal, exact, and flipping twice is the identity (for an involutive
`flip_index`).  :func:`flip_shift` computes it from the encoding's own ``to_heatmap``/``to_bins``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .heatmap2d import Heatmap2D
from .simcc import SimCC


def flip_shift(encoding: Heatmap2D | SimCC) -> tuple[float, float]:
    """Shift (map px / bins) needed after reversing, per axis (x, unused 0 for y); 0 here."""
    iw = encoding.input_size[0]
    if isinstance(encoding, Heatmap2D):
        fwd, n = encoding.to_heatmap, encoding.heatmap_size[0]
    else:
        fwd, n = encoding.to_bins, encoding.simcc_size[0]
    probe = torch.tensor([[0.0, 0.0], [iw - 1.0, 0.0]], dtype=torch.float64)
    u0, u1 = fwd(probe)[:, 0].double()  # u(x=0), u(x=W-1): u' = u0 + u1 - u
    return float(u0 + u1 - (n - 1)), 0.0


def _index(flip_index: Sequence[int], k: int, device: torch.device) -> Tensor:
    idx = torch.as_tensor(list(flip_index), dtype=torch.long, device=device)
    if idx.ndim != 1 or idx.numel() != k or (k and (idx.min() < 0 or idx.max() >= k)):
        raise ValueError(f"flip_index must list {k} channel indices in [0, {k}), got {list(flip_index)}")
    return idx


def _check_exact(encoding: Heatmap2D | SimCC) -> None:
    shift = flip_shift(encoding)[0]
    if abs(shift) > 1e-4:
        raise ValueError(f"flip_output: {encoding!r} needs a {shift:.4f} px shift after reversal; unsupported")


def flip_heatmap(output: Tensor, encoding: Heatmap2D, flip_index: Sequence[int]) -> Tensor:
    """(B, K, h, w) -> (B, K, h, w): reversed along w, channel k taken from flip_index[k]."""
    _check_exact(encoding)
    return output.flip(-1).index_select(1, _index(flip_index, output.shape[1], output.device))


def flip_simcc(output: tuple[Tensor, Tensor], encoding: SimCC, flip_index: Sequence[int]) -> tuple[Tensor, Tensor]:
    """(x (B,K,W*r), y (B,K,H*r)) -> x reversed, y unchanged, both channel-swapped."""
    _check_exact(encoding)
    x, y = output
    idx = _index(flip_index, x.shape[1], x.device)
    return x.flip(-1).index_select(1, idx), y.index_select(1, idx)


def flip_output(output: Any, encoding: Any, flip_index: Sequence[int]) -> Any:
    """Mirror a head output of `encoding` horizontally and swap left/right channels.

    Typical flip test: ``(out + flip_output(model(image.flip(-1)), enc, flip_index)) / 2``
    then decode.  Encodings other than Heatmap2D/SimCC may define
    ``flip_output(output, flip_index)`` themselves (e.g. a hybrid built on the two functions above).
    """
    if isinstance(encoding, Heatmap2D):
        return flip_heatmap(output, encoding, flip_index)
    if isinstance(encoding, SimCC):
        return flip_simcc(output, encoding, flip_index)
    if hasattr(encoding, "flip_output"):
        return encoding.flip_output(output, flip_index)
    raise ValueError(f"flip_output: no flip rule for {type(encoding).__name__}")


def flip_keypoints(keypoints: Tensor, input_size: Sequence[int], flip_index: Sequence[int]) -> Tensor:
    """Keypoints (B, K, 2) of an image -> those of ``image.flip(-1)``: x -> W-1-x, channels swapped."""
    idx = _index(flip_index, keypoints.shape[1], keypoints.device)
    out = keypoints.index_select(1, idx).clone()
    out[..., 0] = (input_size[0] - 1) - out[..., 0]
    return out
