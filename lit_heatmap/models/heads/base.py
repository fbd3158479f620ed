"""Shared pieces of the heads: target geometry read from the encoding, layer helpers.

Heads never take sizes from the config: they read the backbone's ``in_channels``/``in_strides`` and ask
the encoding for its target shapes (by encoding one dummy keypoint, so any encoding that follows the
codec contract works).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lit_heatmap.codecs import Encoding, HeatmapEncoding, encoding_kind

__all__ = [
    "KeypointHead",
    "target_shapes",
    "heatmap_stride",
    "deconv_layers",
    "pick_level",
    "final_conv",
    "num_doublings",
]


class KeypointHead(nn.Module):
    """Base of the heads (the :class:`~lit_heatmap.codecs.base.Head` contract): ``accepts`` names the
    encoding kinds a head produces outputs for (the codecs' vocabulary, checked by
    :func:`lit_heatmap.codecs.check_compatible` before anything is built)."""

    accepts: tuple[str, ...] = ()


@torch.no_grad()
def target_shapes(encoding: Encoding) -> tuple[int, ...]:
    """The spatial shape of one keypoint's target, read by encoding a dummy keypoint.

    Returns:
        ``(h, w)`` for a 2D heatmap encoding, ``(x_bins, y_bins)`` for SimCC.
    """
    kind = encoding_kind(encoding)
    if kind == "hybrid":
        raise ValueError("target_shapes: pass encoding.heatmap or encoding.simcc of a Hybrid encoding")
    w, h = (float(s) for s in encoding.input_size)
    target, _ = encoding.encode(torch.tensor([[[w / 2, h / 2]]]), torch.ones(1, 1))
    if kind == "simcc":
        x, y = target
        return int(x.shape[-1]), int(y.shape[-1])
    return int(target.shape[-2]), int(target.shape[-1])


def heatmap_stride(encoding: HeatmapEncoding) -> float:
    """Input pixels per heatmap pixel of a 2D encoding (``input_size / heatmap_size``, same on both axes)."""
    h, w = target_shapes(encoding)
    in_w, in_h = (int(s) for s in encoding.input_size)
    sx, sy = in_w / w, in_h / h
    if not math.isclose(sx, sy, rel_tol=1e-6):
        raise ValueError(
            f"{type(encoding).__name__}(input_size={tuple(encoding.input_size)}, heatmap size (w, h)={(w, h)}): "
            f"the heads need the same stride on both axes, got x {sx:g} and y {sy:g}"
        )
    return sx


def pick_level(in_channels: Sequence[int], in_strides: Sequence[int], in_index: int, owner: str) -> tuple[int, int]:
    """(channels, stride) of feature level ``in_index`` with a clear error when it does not exist."""
    if len(in_channels) != len(in_strides) or not in_channels:
        raise ValueError(
            f"{owner}: in_channels {list(in_channels)} and in_strides {list(in_strides)} "
            "must be non-empty and equally long"
        )
    try:
        return int(in_channels[in_index]), int(in_strides[in_index])
    except IndexError:
        raise ValueError(
            f"{owner}: in_index={in_index} but the backbone gives {len(in_channels)} feature levels"
        ) from None


def deconv_layers(in_ch: int, channels: Sequence[int], kernel: int = 4) -> tuple[nn.Sequential, int]:
    """``len(channels)`` blocks of ConvTranspose2d(stride 2) + BN + ReLU, each doubling H and W.

    Returns the stack and its output channel count. Kernel 4 (padding 1), 3 or 2 as in SimpleBaseline.
    """
    padding, output_padding = {4: (1, 0), 3: (1, 1), 2: (0, 0)}.get(kernel, (None, None))
    if padding is None:
        raise ValueError(f"deconv kernel must be 2, 3 or 4, got {kernel}")
    layers: list[nn.Module] = []
    for ch in channels:
        deconv = nn.ConvTranspose2d(
            in_ch, ch, kernel, stride=2, padding=padding, output_padding=output_padding, bias=False
        )
        nn.init.normal_(deconv.weight, std=0.001)
        layers += [deconv, nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        in_ch = ch
    return nn.Sequential(*layers), in_ch


def final_conv(in_ch: int, out_ch: int, kernel: int = 1) -> nn.Conv2d:
    """The K-channel output convolution, initialised like MMPose (N(0, 0.001), bias 0)."""
    conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
    nn.init.normal_(conv.weight, std=0.001)
    nn.init.zeros_(conv.bias)
    return conv


def num_doublings(ratio: float, owner: str) -> int:
    """log2 of a stride ratio that must be a power of two >= 1."""
    n = math.log2(ratio) if ratio > 0 else -1.0
    if n < -1e-6 or abs(n - round(n)) > 1e-6:
        raise ValueError(
            f"{owner}: backbone stride / heatmap stride = {ratio:g} is not a power of two >= 1; choose another "
            "feature level (in_index) or encoding heatmap size"
        )
    return int(round(n))
