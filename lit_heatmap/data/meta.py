"""Dataset metadata: keypoint names, skeleton, flip pairs, OKS sigmas, and the COCO / WFLW constants.

Flip pairs are derived from the keypoint names (``left_*`` <-> ``right_*``) so that a new dataset
needs no hand-written pair table; :func:`flip_index_from_names` is the single place that does it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

__all__ = [
    "DatasetMeta",
    "flip_index_from_names",
    "COCO_KEYPOINT_NAMES",
    "COCO_SKELETON",
    "COCO_SIGMAS",
    "COCO_UPPER_BODY",
    "WFLW_KEYPOINT_NAMES",
    "WFLW_FLIP_INDEX",
    "WFLW_ATTRIBUTES",
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
        sigmas: K OKS sigmas (COCO convention, already divided by 10).
        input_size: network input ``(w, h)``.
        upper_body_ids: indices used by the half-body augmentation (may be empty).
    """

    name: str
    num_keypoints: int
    keypoint_names: list[str]
    skeleton: list[tuple[int, int]]
    flip_index: list[int]
    sigmas: list[float]
    input_size: tuple[int, int]
    upper_body_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.num_keypoints
        for attr in ("keypoint_names", "flip_index", "sigmas"):
            if len(getattr(self, attr)) != k:
                raise ValueError(
                    f"DatasetMeta({self.name!r}): {attr} has {len(getattr(self, attr))} entries, "
                    f"expected num_keypoints={k}"
                )
        if sorted(self.flip_index) != list(range(k)):
            raise ValueError(f"DatasetMeta({self.name!r}): flip_index {self.flip_index} is not a permutation")
        if any(self.flip_index[self.flip_index[i]] != i for i in range(k)):
            raise ValueError(f"DatasetMeta({self.name!r}): flip_index {self.flip_index} is not an involution")
        for i, j in self.skeleton:
            if not (0 <= i < k and 0 <= j < k):
                raise ValueError(f"DatasetMeta({self.name!r}): skeleton edge ({i}, {j}) out of range 0..{k - 1}")


_SIDE = {"left": "right", "right": "left", "l": "r", "r": "l"}
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _match_case(word: str, like: str) -> str:
    if like.isupper() and (len(like) > 1 or len(word) == 1):
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


def _swap_side(name: str) -> str | None:
    """The name with its side swapped (``left_eye`` -> ``right_eye``, ``LeftEye`` -> ``RightEye``,
    ``hip_L`` -> ``hip_R``), or None when the name carries no side. One-letter ``l``/``r`` count only
    as separate words of a longer name."""
    words = list(_WORD.finditer(name))
    out, pos, changed = [], 0, False
    for m in words:
        w = m.group(0)
        low = w.lower()
        if low in _SIDE and (len(low) > 1 or len(words) > 1):
            out.append(name[pos : m.start()] + _match_case(_SIDE[low], w))
            pos, changed = m.end(), True
    out.append(name[pos:])
    return "".join(out) if changed else None


def flip_index_from_names(names: Sequence[str]) -> list[int]:
    """Derive the horizontal-flip permutation from keypoint names.

    A name containing a ``left``/``right`` token (also ``l``/``r`` tokens and CamelCase) is paired
    with the name that has the other side; names without a side map to themselves.

    Args:
        names: K keypoint names.

    Returns:
        K ints, ``flip_index[k]`` = the index of k's mirror image.

    Raises:
        ValueError: a sided name whose counterpart is missing, or duplicate names.
    """
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        dup = sorted({n for n in names if list(names).count(n) > 1})
        raise ValueError(f"duplicate keypoint names {dup}; cannot derive flip pairs")
    out = []
    for i, n in enumerate(names):
        other = _swap_side(n)
        if other is None:
            out.append(i)
            continue
        if other not in index:
            raise ValueError(
                f"keypoint {n!r} has a side but no counterpart {other!r}; "
                "give the flip pairs explicitly (flip_pairs=[[i, j], ...])"
            )
        out.append(index[other])
    return out


def flip_index_from_pairs(pairs: Sequence[Sequence[int]], num_keypoints: int) -> list[int]:
    """Flip permutation from explicit ``[[i, j], ...]`` pairs (0-based); others map to themselves."""
    out = list(range(num_keypoints))
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"flip pair {list(pair)} must have two indices")
        i, j = int(pair[0]), int(pair[1])
        if not (0 <= i < num_keypoints and 0 <= j < num_keypoints):
            raise ValueError(f"flip pair ({i}, {j}) out of range 0..{num_keypoints - 1}")
        out[i], out[j] = j, i
    return out


# --------------------------------------------------------------------------------------- COCO
COCO_KEYPOINT_NAMES: list[str] = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
# the official 1-based skeleton, made 0-based
COCO_SKELETON: list[tuple[int, int]] = [
    (a - 1, b - 1)
    for a, b in [
        (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
        (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
    ]
]  # fmt: skip
COCO_SIGMAS: list[float] = [
    s / 10.0
    for s in [.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]
]  # fmt: skip
COCO_UPPER_BODY: list[int] = list(range(11))


# --------------------------------------------------------------------------------------- WFLW
def _wflw_names() -> list[str]:
    """Names of the 98 WFLW landmarks. ``right`` = the subject's right = the image left of a frontal
    face (as in COCO). Mirrored landmarks share a suffix, so the flip pairs follow from the names."""
    n: list[str] = [""] * 98
    for i in range(16):  # jaw line 0..32, 16 = chin
        n[i], n[32 - i] = f"right_contour_{i}", f"left_contour_{i}"
    n[16] = "chin"
    for j in range(5):  # upper brow: 33..37 (right, outer->inner), 46..42 (left, outer->inner)
        n[33 + j], n[46 - j] = f"right_brow_upper_{j}", f"left_brow_upper_{j}"
    for j in range(4):  # lower brow: 38..41 and 50..47
        n[38 + j], n[50 - j] = f"right_brow_lower_{j}", f"left_brow_lower_{j}"
    for j in range(4):  # nose bridge, centre line
        n[51 + j] = f"nose_bridge_{j}"
    n[55], n[56], n[57], n[58], n[59] = "right_nostril_0", "right_nostril_1", "nose_base", "left_nostril_1", "left_nostril_0"
    # eyes: 60 (outer) .. 67 for the right eye; its mirror runs 72 (outer), 71, 70, 69, 68, 75, 74, 73
    for j, m in enumerate([72, 71, 70, 69, 68, 75, 74, 73]):
        n[60 + j], n[m] = f"right_eye_{j}", f"left_eye_{j}"
    # outer lip 76..87: 79 and 85 on the centre line
    for a, b, j in [(76, 82, 0), (77, 81, 1), (78, 80, 2), (87, 83, 3), (86, 84, 4)]:
        n[a], n[b] = f"right_lip_outer_{j}", f"left_lip_outer_{j}"
    n[79], n[85] = "lip_outer_top", "lip_outer_bottom"
    # inner lip 88..95: 90 and 94 on the centre line
    for a, b, j in [(88, 92, 0), (89, 91, 1), (95, 93, 2)]:
        n[a], n[b] = f"right_lip_inner_{j}", f"left_lip_inner_{j}"
    n[90], n[94] = "lip_inner_top", "lip_inner_bottom"
    n[96], n[97] = "right_pupil", "left_pupil"
    assert all(n) and len(set(n)) == 98
    return n


WFLW_KEYPOINT_NAMES: list[str] = _wflw_names()
WFLW_FLIP_INDEX: list[int] = flip_index_from_names(WFLW_KEYPOINT_NAMES)
WFLW_ATTRIBUTES: list[str] = ["pose", "expression", "illumination", "make-up", "occlusion", "blur"]


def _wflw_skeleton() -> list[tuple[int, int]]:
    chains = [list(range(0, 33)), list(range(33, 42)) + [33], list(range(42, 51)) + [42], list(range(51, 55)),
              list(range(55, 60)), list(range(60, 68)) + [60], list(range(68, 76)) + [68],
              list(range(76, 88)) + [76], list(range(88, 96)) + [88]]  # fmt: skip
    return [(c[i], c[i + 1]) for c in chains for i in range(len(c) - 1)]


WFLW_SKELETON: list[tuple[int, int]] = _wflw_skeleton()
