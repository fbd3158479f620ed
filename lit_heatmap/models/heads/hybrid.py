"""Hybrid head: a 2D heatmap branch and a SimCC branch on the same backbone features."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from lit_heatmap.codecs import HeadFactory, HybridEncoding, check_compatible

from .base import KeypointHead
from .deconv import DeconvHeatmapHead
from .multiscale import MultiScaleHeatmapHead
from .simcc import SimCCHead

__all__ = ["HybridHead"]

# The branch names of checkpoints written before branches were head nodes (``heatmap_branch``).
_LEGACY_HEATMAP_BRANCHES = {"deconv": DeconvHeatmapHead, "multiscale": MultiScaleHeatmapHead}


class HybridHead(KeypointHead):
    """Both branches share the backbone; each is a full head of its own.

    Args:
        in_channels, in_strides, num_keypoints: as for every head.
        encoding: a hybrid encoding (its ``heatmap`` and ``simcc`` parts size the branches).
        heatmap: the 2D branch as a head node with ``_partial_: true`` (a head class or a
            ``functools.partial`` of one from Python), completed with the backbone's channels and strides,
            K and ``encoding.heatmap``; default ``DeconvHeatmapHead``.  Any head that accepts
            ``"heatmap"`` encodings works.
        simcc: the SimCC branch, likewise (default ``SimCCHead``), completed with ``encoding.simcc``.
        heatmap_branch: only for checkpoints written before the branches were head nodes, whose
            ``heatmap`` and ``simcc`` are plain option mappings: ``"deconv"`` or ``"multiscale"`` names the
            2D branch's class (default ``"deconv"``).

    Shapes:
        forward: list of features -> ``(heatmaps (B, K, h, w), (x (B, K, W*r), y (B, K, H*r)))``.
    """

    accepts = ("hybrid",)

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        num_keypoints: int,
        encoding: HybridEncoding,
        heatmap: HeadFactory | Mapping[str, Any] | None = None,
        simcc: HeadFactory | Mapping[str, Any] | None = None,
        heatmap_branch: str | None = None,
    ) -> None:
        super().__init__()
        check_compatible(encoding, head=type(self))
        if heatmap_branch is not None and heatmap_branch not in _LEGACY_HEATMAP_BRANCHES:
            raise ValueError(
                f"HybridHead: heatmap_branch must be one of {sorted(_LEGACY_HEATMAP_BRANCHES)}, got {heatmap_branch!r}"
            )
        legacy = _LEGACY_HEATMAP_BRANCHES[heatmap_branch or "deconv"]
        make_heatmap = _branch(heatmap, legacy, "heatmap")
        make_simcc = _branch(simcc, SimCCHead, "simcc")
        check_compatible(encoding.heatmap, head=make_heatmap, names={"head": "HybridHead.heatmap"})
        check_compatible(encoding.simcc, head=make_simcc, names={"head": "HybridHead.simcc"})
        args = (in_channels, in_strides, num_keypoints)
        self.heatmap: nn.Module = make_heatmap(*args, encoding.heatmap)
        self.simcc: nn.Module = make_simcc(*args, encoding.simcc)

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """features -> ``(heatmaps, (x, y))``."""
        return self.heatmap(features), self.simcc(features)


def _branch(given: HeadFactory | Mapping[str, Any] | None, default: type, name: str) -> HeadFactory:
    """The constructor of one branch: a head class or partial as given; a plain mapping of options (the
    form of older checkpoints) bound to ``default``; ``None``: ``default``.

    Raises:
        ValueError: a head node without ``_partial_: true`` reached here as a mapping it cannot complete.
    """
    if given is None:
        return default
    if isinstance(given, Mapping):
        if "_target_" in given:
            raise ValueError(
                f"HybridHead: {name}={dict(given)} is a head node but was not built; give it '_partial_: true' "
                "(the branch is completed with the backbone's channels, K and the encoding)"
            )
        return functools.partial(default, **dict(given))
    return given
