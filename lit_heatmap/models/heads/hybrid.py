"""Hybrid head: a 2D heatmap branch and a SimCC branch on the same backbone features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from lit_heatmap.codecs import check_compatible

from .base import KeypointHead
from .deconv import DeconvHeatmapHead
from .multiscale import MultiScaleHeatmapHead
from .simcc import SimCCHead

__all__ = ["HybridHead"]


class HybridHead(KeypointHead):
    """Both branches share the backbone; each is a full head of its own family.

    Args:
        in_channels, in_strides, num_keypoints: as for every head.
        encoding: a ``Hybrid`` encoding (its ``heatmap`` and ``simcc`` parts size the branches).
        heatmap_branch: ``"deconv"`` (SimpleBaseline) or ``"multiscale"``.
        heatmap: keyword options of the heatmap branch (see ``DeconvHeatmapHead`` /
            ``MultiScaleHeatmapHead``).
        simcc: keyword options of the SimCC branch (see ``SimCCHead``).

    Shapes:
        forward: list of features -> ``(heatmaps (B, K, h, w), (x (B, K, W*r), y (B, K, H*r)))``.
    """

    accepts = ("hybrid",)

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        num_keypoints: int,
        encoding: Any,
        heatmap_branch: str = "deconv",
        heatmap: Mapping[str, Any] | None = None,
        simcc: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        check_compatible(encoding, head=type(self))
        branches = {"deconv": DeconvHeatmapHead, "multiscale": MultiScaleHeatmapHead}
        if heatmap_branch not in branches:
            raise ValueError(f"HybridHead: heatmap_branch must be one of {sorted(branches)}, got {heatmap_branch!r}")
        self.heatmap = branches[heatmap_branch](
            in_channels, in_strides, num_keypoints, encoding.heatmap, **dict(heatmap or {})
        )
        self.simcc = SimCCHead(in_channels, in_strides, num_keypoints, encoding.simcc, **dict(simcc or {}))

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """features -> ``(heatmaps, (x, y))``."""
        return self.heatmap(features), self.simcc(features)
