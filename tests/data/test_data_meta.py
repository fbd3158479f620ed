"""Flip pairs derived from names; COCO and WFLW constants."""

from __future__ import annotations

import numpy as np
import pytest

from lit_heatmap.data import WFLW
from lit_heatmap.data.meta import (
    COCO_KEYPOINT_NAMES,
    WFLW_FLIP_INDEX,
    WFLW_KEYPOINT_NAMES,
    DatasetMeta,
    flip_index_from_names,
    flip_index_from_pairs,
)

# MMPose's WFLW dataset_info swap pairs, copied by hand: an independent oracle for the derivation.
MMPOSE_WFLW_PAIRS = [
    (0, 32), (1, 31), (2, 30), (3, 29), (4, 28), (5, 27), (6, 26), (7, 25), (8, 24), (9, 23), (10, 22),
    (11, 21), (12, 20), (13, 19), (14, 18), (15, 17), (33, 46), (34, 45), (35, 44), (36, 43), (37, 42),
    (38, 50), (39, 49), (40, 48), (41, 47), (60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75),
    (66, 74), (67, 73), (55, 59), (56, 58), (76, 82), (77, 81), (78, 80), (87, 83), (86, 84), (88, 92),
    (89, 91), (95, 93), (96, 97),
]  # fmt: skip


def test_coco_flip_from_names() -> None:
    assert flip_index_from_names(COCO_KEYPOINT_NAMES) == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


@pytest.mark.parametrize(
    "names, expected",
    [
        (["LeftEye", "RightEye", "Nose"], [1, 0, 2]),
        (["paw_L", "tail", "paw_R"], [2, 1, 0]),
        (["l_hip", "r_hip"], [1, 0]),
        (["front_left_paw", "front_right_paw", "back_left_paw", "back_right_paw"], [1, 0, 3, 2]),
        (["Left Ear", "Right Ear", "r"], [1, 0, 2]),  # a lone "r" is a name, not a side
        (["LEFT_KNEE", "RIGHT_KNEE"], [1, 0]),
    ],
)
def test_flip_from_name_styles(names: list[str], expected: list[int]) -> None:
    assert flip_index_from_names(names) == expected


def test_flip_missing_counterpart_names_it() -> None:
    with pytest.raises(ValueError, match="left_wing.*right_wing"):
        flip_index_from_names(["head", "left_wing"])


def test_flip_from_pairs() -> None:
    assert flip_index_from_pairs([[0, 3]], 4) == [3, 1, 2, 0]
    with pytest.raises(ValueError, match="out of range"):
        flip_index_from_pairs([[0, 4]], 4)


def test_wflw_flip_matches_mmpose() -> None:
    ref = list(range(98))
    for a, b in MMPOSE_WFLW_PAIRS:
        ref[a], ref[b] = b, a
    assert WFLW_FLIP_INDEX == ref
    assert len(set(WFLW_KEYPOINT_NAMES)) == 98


def test_wflw_flip_is_geometric_mirror(wflw_root) -> None:
    """Mirroring a real, roughly frontal face and permuting by the flip index lands every landmark
    near its own position (relative to the face's symmetry axis); a wrong pairing would not."""
    ds = WFLW(wflw_root, split="test")
    errors, unswapped = [], []
    for rec in ds.records:
        p = rec.keypoints
        axis = np.median(p[[16, 51, 52, 53, 54, 57, 79, 85, 90, 94], 0])  # centre-line landmarks
        mirrored = p.copy()
        mirrored[:, 0] = 2 * axis - p[:, 0]
        iod = np.linalg.norm(p[60] - p[72])
        errors.append(np.linalg.norm(mirrored[WFLW_FLIP_INDEX] - p, axis=1).mean() / iod)
        unswapped.append(np.linalg.norm(mirrored - p, axis=1).mean() / iod)  # mirror without the swap
    # every face: the swap brings the mirrored landmarks closer than no swap does; on the two
    # near-frontal faces of the sample (errors 0.09 and 0.13 x inter-ocular) much closer
    assert all(e < u for u, e in zip(unswapped, errors))
    frontal = [i for i, e in enumerate(errors) if e < 0.15]
    assert len(frontal) == 2
    assert all(unswapped[i] > 4 * errors[i] for i in frontal)


def test_meta_rejects_inconsistent() -> None:
    with pytest.raises(ValueError, match="flip_index"):
        DatasetMeta("x", 2, ["a", "b"], [], [1, 1], [0.1, 0.1], (8, 8))
    with pytest.raises(ValueError, match="sigmas"):
        DatasetMeta("x", 2, ["a", "b"], [], [0, 1], [0.1], (8, 8))
    with pytest.raises(ValueError, match="skeleton"):
        DatasetMeta("x", 2, ["a", "b"], [(0, 2)], [0, 1], [0.1, 0.1], (8, 8))
