"""Dataset facts: the COCO person and WFLW face constants, defined once.

Plain data (no imports beyond the standard library) so that ``data/`` (datasets, meta) and
``metrics/`` (OKS sigmas, NME subsets) both read them from here.

* ``COCO_KEYPOINT_NAMES`` (17), ``COCO_SKELETON`` (0-based pairs), ``COCO_SIGMAS`` (OKS sigmas, the
  official values divided by 10), ``COCO_UPPER_BODY`` (half-body augmentation).
* ``WFLW_KEYPOINT_NAMES`` (98), ``WFLW_FLIP_INDEX``, ``WFLW_SKELETON``, ``WFLW_ATTRIBUTES`` (the six
  subset flags of the annotation lines, in file order).

``right`` is the subject's right (the image left of a frontal view), as in COCO.
"""

from __future__ import annotations

__all__ = [
    "COCO_KEYPOINT_NAMES",
    "COCO_SIGMAS",
    "COCO_SKELETON",
    "COCO_UPPER_BODY",
    "WFLW_ATTRIBUTES",
    "WFLW_FLIP_INDEX",
    "WFLW_KEYPOINT_NAMES",
    "WFLW_SKELETON",
]


def _mirror_index(names: tuple[str, ...]) -> tuple[int, ...]:
    """Flip permutation of names whose sides are spelt ``left_``/``right_``: k -> index of its mirror."""
    where = {n: i for i, n in enumerate(names)}

    def mirror(name: str) -> str:
        if name.startswith("left_"):
            return "right_" + name[5:]
        return "left_" + name[6:] if name.startswith("right_") else name

    return tuple(where[mirror(n)] for n in names)


# --------------------------------------------------------------------------------------- COCO
COCO_KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# the official 1-based skeleton, made 0-based
_COCO_SKELETON_1 = (
    (16, 14),
    (14, 12),
    (17, 15),
    (15, 13),
    (12, 13),
    (6, 12),
    (7, 13),
    (6, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (9, 11),
    (2, 3),
    (1, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
    (5, 7),
)
COCO_SKELETON: tuple[tuple[int, int], ...] = tuple((a - 1, b - 1) for a, b in _COCO_SKELETON_1)
_COCO_SIGMAS_X10 = (
    0.26,
    0.25,
    0.25,
    0.35,
    0.35,
    0.79,
    0.79,
    0.72,
    0.72,
    0.62,
    0.62,
    1.07,
    1.07,
    0.87,
    0.87,
    0.89,
    0.89,
)
COCO_SIGMAS: tuple[float, ...] = tuple(s / 10.0 for s in _COCO_SIGMAS_X10)
COCO_UPPER_BODY: tuple[int, ...] = tuple(range(11))


# --------------------------------------------------------------------------------------- WFLW
def _wflw_names() -> tuple[str, ...]:
    """Names of the 98 WFLW landmarks. Mirrored landmarks share a suffix after ``left_``/``right_``."""
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
    n[55], n[56], n[57] = "right_nostril_0", "right_nostril_1", "nose_base"
    n[58], n[59] = "left_nostril_1", "left_nostril_0"
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
    return tuple(n)


def _wflw_skeleton() -> tuple[tuple[int, int], ...]:
    chains = [
        list(range(0, 33)),
        list(range(33, 42)) + [33],
        list(range(42, 51)) + [42],
        list(range(51, 55)),
        list(range(55, 60)),
        list(range(60, 68)) + [60],
        list(range(68, 76)) + [68],
        list(range(76, 88)) + [76],
        list(range(88, 96)) + [88],
    ]
    return tuple((c[i], c[i + 1]) for c in chains for i in range(len(c) - 1))


WFLW_KEYPOINT_NAMES: tuple[str, ...] = _wflw_names()
WFLW_FLIP_INDEX: tuple[int, ...] = _mirror_index(WFLW_KEYPOINT_NAMES)
WFLW_SKELETON: tuple[tuple[int, int], ...] = _wflw_skeleton()
WFLW_ATTRIBUTES: tuple[str, ...] = ("pose", "expression", "illumination", "makeup", "occlusion", "blur")
