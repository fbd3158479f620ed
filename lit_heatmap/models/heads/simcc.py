"""SimCC head: a conv to K channels, flattened, then linear layers to x bins and y bins (Li et al. 2022)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from lit_heatmap.codecs import VectorEncoding, check_compatible

from .base import KeypointHead, deconv_layers, final_conv, pick_level, target_shapes

__all__ = ["SimCCHead"]


class SimCCHead(KeypointHead):
    """Feature level -> (optional deconvs) -> conv to K -> flatten -> ``Linear`` to x and y bins.

    The Linear input size is the feature map's area, derived from ``encoding.input_size`` and the
    level's stride (``ceil(W / s) * ceil(H / s)``, times 4 per deconv), so configs never give it.

    Args:
        in_channels, in_strides: the backbone's ``channels`` and ``strides``.
        num_keypoints: K.
        encoding: a ``SimCC`` encoding (bins = input size x split ratio).
        in_index: backbone level to read (default: the last one).
        deconv_channels: optional deconv blocks before the conv (MMPose's SimCC-ResNet uses none).
        final_kernel: kernel of the conv to K channels.

    Shapes:
        forward: list of features -> ``(x (B, K, W*r), y (B, K, H*r))`` logits.
    """

    accepts = ("simcc",)

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        num_keypoints: int,
        encoding: VectorEncoding,
        in_index: int = -1,
        deconv_channels: Sequence[int] = (),
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        check_compatible(encoding, head=type(self))
        ch, stride = pick_level(in_channels, in_strides, in_index, type(self).__name__)
        self.in_index = in_index
        self.deconv, ch = deconv_layers(ch, [int(c) for c in deconv_channels])
        self.final = final_conv(ch, num_keypoints, final_kernel)
        in_w, in_h = (int(s) for s in encoding.input_size)
        up = 2 ** len(deconv_channels)
        self.feature_size = (math.ceil(in_h / stride) * up, math.ceil(in_w / stride) * up)  # (h, w)
        area = self.feature_size[0] * self.feature_size[1]
        x_bins, y_bins = target_shapes(encoding)
        self.mlp_x = nn.Linear(area, x_bins)
        self.mlp_y = nn.Linear(area, y_bins)

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """features[in_index] -> ``(x (B, K, W*r), y (B, K, H*r))``."""
        maps = self.final(self.deconv(features[self.in_index]))
        if tuple(maps.shape[-2:]) != self.feature_size:
            raise ValueError(
                f"{type(self).__name__}: feature map (h, w)={tuple(maps.shape[-2:])} but the head was sized for "
                f"{self.feature_size} from encoding.input_size; feed images of encoding.input_size"
            )
        flat = maps.flatten(2)
        return self.mlp_x(flat), self.mlp_y(flat)
