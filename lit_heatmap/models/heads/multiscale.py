"""Multi-scale head: fuses several backbone levels at the heatmap stride (HRNetV2-style, or FPN-style sum)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_heatmap.codecs import HeatmapEncoding, check_compatible

from .base import KeypointHead, final_conv, heatmap_stride, target_shapes

__all__ = ["MultiScaleHeatmapHead"]


class MultiScaleHeatmapHead(KeypointHead):
    """Upsample backbone levels to the heatmap size, fuse them, predict K heatmaps.

    ``fuse="concat"`` is HRNetV2's head (upsample every level bilinearly, concatenate,
    1x1 conv + BN + ReLU, then the output conv); ``fuse="sum"`` projects each level to ``channels``
    with a 1x1 conv + BN, upsamples and sums them, then 3x3 conv + BN + ReLU and the output conv.
    A ResNet, ConvNeXt or HRNet thus gives stride-4 heatmaps without a deconvolution stack.

    Args:
        in_channels, in_strides: the backbone's ``channels`` and ``strides``.
        num_keypoints: K.
        encoding: a 2D heatmap encoding; its heatmap size fixes the output size.
        in_indices: levels to fuse; default: every level whose stride is >= the heatmap stride
            (finer levels would only be downsampled).
        fuse: ``"concat"`` (HRNetV2) or ``"sum"``.
        channels: fused width; ``None`` = sum of the fused levels' channels (concat) or 256 (sum).
        final_kernel: kernel of the output conv.

    Shapes:
        forward: list of features -> heatmaps ``(B, K, h, w)``.
    """

    accepts = ("heatmap",)

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        num_keypoints: int,
        encoding: HeatmapEncoding,
        in_indices: Sequence[int] | None = None,
        fuse: str = "concat",
        channels: int | None = None,
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        check_compatible(encoding, head=type(self))
        name = type(self).__name__
        if fuse not in ("concat", "sum"):
            raise ValueError(f"{name}: fuse must be 'concat' or 'sum', got {fuse!r}")
        if len(in_channels) != len(in_strides) or not in_channels:
            raise ValueError(f"{name}: in_channels {list(in_channels)} / in_strides {list(in_strides)} mismatch")
        self.heatmap_size = target_shapes(encoding)
        stride = heatmap_stride(encoding)
        if in_indices is None:
            in_indices = [i for i, s in enumerate(in_strides) if s >= stride - 1e-6] or [len(in_strides) - 1]
        n = len(in_channels)
        bad = [i for i in in_indices if not -n <= int(i) < n]
        if bad:
            raise ValueError(f"{name}: in_indices {list(in_indices)} out of range for {n} backbone levels")
        self.in_indices = [int(i) % n for i in in_indices]
        self.fuse = fuse
        level_ch = [int(in_channels[i]) for i in self.in_indices]
        if fuse == "concat":
            total = sum(level_ch)
            width = int(channels) if channels else total
            self.proj = nn.ModuleList([nn.Identity() for _ in level_ch])
            self.mix = nn.Sequential(
                nn.Conv2d(total, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
            )
        else:
            width = int(channels) if channels else 256
            self.proj = nn.ModuleList(
                [nn.Sequential(nn.Conv2d(c, width, 1, bias=False), nn.BatchNorm2d(width)) for c in level_ch]
            )
            self.mix = nn.Sequential(
                nn.ReLU(inplace=False),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
        self.final = final_conv(width, num_keypoints, final_kernel)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """Selected levels ``(B, C_i, H/s_i, W/s_i)`` -> heatmaps ``(B, K, h, w)``."""
        size = self.heatmap_size
        ups = []
        for proj, i in zip(self.proj, self.in_indices):
            x = proj(features[i])
            if tuple(x.shape[-2:]) != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            ups.append(x)
        fused = torch.cat(ups, dim=1) if self.fuse == "concat" else torch.stack(ups).sum(0)
        return self.final(self.mix(fused))
