"""Dataset metadata (keypoint names, skeleton, flip pairs, OKS sigmas).

The COCO / WFLW constants live in :mod:`lit_heatmap.facts`; the side rules that derive flip pairs
from keypoint names live in :mod:`.sides` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .sides import (
    FlipResolution,
    flip_index_from_names,
    flip_index_from_pairs,
    resolve_flip_index,
    sided_names,
)

__all__ = [
    "DatasetMeta",
    "keypoint_sigmas",
    "FlipResolution",
    "resolve_flip_index",
    "sided_names",
    "flip_index_from_names",
    "flip_index_from_pairs",
]


@dataclass(frozen=True)
class DatasetMeta:
    """What the model and the metrics need to know about a dataset.

    Attributes:
        name: dataset name (``"coco"``, ``"wflw"``, ``"synthetic"``, a category name...).
        num_keypoints: K.
        keypoint_names: K names.
        skeleton: 0-based ``(i, j)`` pairs for drawing.
        flip_index: K ints; after a horizontal flip, channel ``k`` takes keypoint ``flip_index[k]``.
            None when the keypoints' sides are unknown: horizontal flip (augmentation and flip test)
            is then off.
        sigmas: K OKS sigmas (COCO convention, already divided by 10).
        input_size: network input ``(w, h)``.
        upper_body_ids: indices used by the half-body augmentation (may be empty).
        category_id: the COCO category id written into ``results.json``.
        padding: the box expansion of the crops (1.0 for whole frames); predict and export crop alike.
        flip_note: one line saying where the flip pairs came from (or why flip is off), printed at setup.
    """

    name: str
    num_keypoints: int
    keypoint_names: list[str]
    skeleton: list[tuple[int, int]]
    flip_index: list[int] | None
    sigmas: list[float]
    input_size: tuple[int, int]
    upper_body_ids: list[int] = field(default_factory=list)
    category_id: int = 1
    padding: float = 1.25
    flip_note: str = ""

    def __post_init__(self) -> None:
        k = self.num_keypoints
        for attr in ("keypoint_names", "flip_index", "sigmas"):
            if getattr(self, attr) is not None and len(getattr(self, attr)) != k:
                raise ValueError(
                    f"DatasetMeta({self.name!r}): {attr} has {len(getattr(self, attr))} entries, "
                    f"expected num_keypoints={k}"
                )
        flip = self.flip_index
        if flip is not None and sorted(flip) != list(range(k)):
            raise ValueError(f"DatasetMeta({self.name!r}): flip_index {flip} is not a permutation")
        if flip is not None and any(self.flip_index[self.flip_index[i]] != i for i in range(k)):
            raise ValueError(f"DatasetMeta({self.name!r}): flip_index {self.flip_index} is not an involution")
        for i, j in self.skeleton:
            if not (0 <= i < k and 0 <= j < k):
                raise ValueError(f"DatasetMeta({self.name!r}): skeleton edge ({i}, {j}) out of range 0..{k - 1}")

    @classmethod
    def from_stored(cls, meta: Mapping[str, Any]) -> DatasetMeta:
        """The meta a checkpoint or an export stores (``keypoint_names``, ``input_size`` and, when present,
        ``name``, ``skeleton``, ``sigmas``) as the meta of unlabelled crops for prediction: no flip pairs
        (identity flip index), sigmas 0.05 where none are stored."""
        k = len(meta["keypoint_names"])
        return cls(
            name=str(meta.get("name", "")),
            num_keypoints=k,
            keypoint_names=list(meta["keypoint_names"]),
            skeleton=[tuple(e) for e in meta.get("skeleton", [])],
            flip_index=list(range(k)),
            sigmas=list(meta.get("sigmas") or [0.05] * k),
            input_size=tuple(meta["input_size"]),
        )


def keypoint_sigmas(sigmas: float | Sequence[float] | None, k: int, what: str = "keypoints") -> list[float]:
    """K OKS sigmas from ``dataset.sigmas``: None -> 0.05 each, a number -> that for every keypoint, or K numbers.

    Raises:
        ValueError: a list of the wrong length, or a value that is not a positive number.
    """
    if sigmas is None:
        return [0.05] * k
    values = [sigmas] * k if isinstance(sigmas, (int, float)) and not isinstance(sigmas, bool) else list(sigmas)
    try:
        sig = [float(s) for s in values]
    except (TypeError, ValueError) as err:
        raise ValueError(f"dataset.sigmas={sigmas!r}: expected a number or {k} numbers") from err
    if len(sig) != k:
        raise ValueError(f"dataset.sigmas has {len(sig)} entries but the project has {k} {what}")
    if not all(s > 0 for s in sig):
        raise ValueError(f"dataset.sigmas={sig}: every sigma must be a positive number")
    return sig
