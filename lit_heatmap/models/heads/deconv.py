"""SimpleBaseline head: deconvolutions from one backbone level up to the heatmap stride, then a conv."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from lit_heatmap.codecs import HeatmapEncoding, check_compatible

from .base import (
    KeypointHead,
    deconv_layers,
    final_conv,
    heatmap_stride,
    num_doublings,
    pick_level,
    target_shapes,
)

__all__ = ["DeconvHeatmapHead"]


class DeconvHeatmapHead(KeypointHead):
    """Deconv (ConvTranspose2d + BN + ReLU) x n, then a ``final_kernel`` conv to K heatmaps.

    n is derived: ``log2(backbone stride / heatmap stride)`` (ResNet stride 32 -> 3, ViT stride 16 -> 2,
    HRNet's stride-4 branch -> 0, i.e. only the final conv, as in HRNet).

    Args:
        in_channels, in_strides: the backbone's ``channels`` and ``strides``.
        num_keypoints: K.
        encoding: a 2D heatmap encoding (``Heatmap2D``); its heatmap size fixes the output size.
        in_index: which backbone level to read (default: the last, lowest-resolution one).
        deconv_channels: channels of every deconv block (MMPose/SimpleBaseline: 256).
        deconv_kernel: 4 (default), 3 or 2.
        conv_channels: optional 3x3 conv + BN + ReLU blocks after the deconvs (e.g. ``[256]``).
        final_kernel: kernel of the output conv (1 or 3).

    Shapes:
        forward: list of features -> heatmaps ``(B, K, h, w)`` with ``(h, w)`` the encoding's heatmap size.
    """

    accepts = ("heatmap",)

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        num_keypoints: int,
        encoding: HeatmapEncoding,
        in_index: int = -1,
        deconv_channels: int = 256,
        deconv_kernel: int = 4,
        conv_channels: Sequence[int] = (),
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        check_compatible(encoding, head=type(self))
        ch, stride = pick_level(in_channels, in_strides, in_index, type(self).__name__)
        self.in_index = in_index
        self.heatmap_size = target_shapes(encoding)  # (h, w)
        n = num_doublings(
            stride / heatmap_stride(encoding), f"{type(self).__name__}(in_index={in_index}, stride {stride})"
        )
        self.deconv, ch = deconv_layers(ch, [int(deconv_channels)] * n, deconv_kernel)
        convs: list[nn.Module] = []
        for c in conv_channels:
            convs += [nn.Conv2d(ch, int(c), 3, padding=1, bias=False), nn.BatchNorm2d(int(c)), nn.ReLU(inplace=True)]
            ch = int(c)
        self.convs = nn.Sequential(*convs)
        self.final = final_conv(ch, num_keypoints, final_kernel)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        """features[in_index] ``(B, C, H/s, W/s)`` -> heatmaps ``(B, K, h, w)``."""
        out = self.final(self.convs(self.deconv(features[self.in_index])))
        if tuple(out.shape[-2:]) != self.heatmap_size:
            raise ValueError(
                f"{type(self).__name__}: produced heatmaps of (h, w)={tuple(out.shape[-2:])} but the encoding expects "
                f"{self.heatmap_size}; the input image size must be a multiple of the backbone stride and match "
                "encoding.input_size"
            )
        return out
