"""Flip pairs (derived from names, given by index or name, or flip off); COCO and WFLW constants."""

from __future__ import annotations

import numpy as np
import pytest

from lit_heatmap.data import WFLW
from lit_heatmap.data.meta import (
    DatasetMeta,
    flip_index_from_names,
    flip_index_from_pairs,
    resolve_flip_index,
    sided_names,
)
from lit_heatmap.facts import COCO_KEYPOINT_NAMES, WFLW_FLIP_INDEX, WFLW_KEYPOINT_NAMES

# MMPose's WFLW dataset_info swap pairs, copied by hand: an independent oracle for the derivation.
MMPOSE_WFLW_PAIRS = [
    (0, 32),
    (1, 31),
    (2, 30),
    (3, 29),
    (4, 28),
    (5, 27),
    (6, 26),
    (7, 25),
    (8, 24),
    (9, 23),
    (10, 22),
    (11, 21),
    (12, 20),
    (13, 19),
    (14, 18),
    (15, 17),
    (33, 46),
    (34, 45),
    (35, 44),
    (36, 43),
    (37, 42),
    (38, 50),
    (39, 49),
    (40, 48),
    (41, 47),
    (60, 72),
    (61, 71),
    (62, 70),
    (63, 69),
    (64, 68),
    (65, 75),
    (66, 74),
    (67, 73),
    (55, 59),
    (56, 58),
    (76, 82),
    (77, 81),
    (78, 80),
    (87, 83),
    (86, 84),
    (88, 92),
    (89, 91),
    (95, 93),
    (96, 97),
]


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
    assert list(WFLW_FLIP_INDEX) == ref
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
        errors.append(np.linalg.norm(mirrored[list(WFLW_FLIP_INDEX)] - p, axis=1).mean() / iod)
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


# ------------------------------------------------------------------------- resolve_flip_index
OPENFIELD = ["snout", "leftear", "rightear", "tailbase"]
REACHING = ["Hand", "Finger1", "Finger2", "Joystick1", "Joystick2"]
TRIMICE = [
    "snout",
    "leftear",
    "rightear",
    "shoulder",
    "spine1",
    "spine2",
    "spine3",
    "spine4",
    "tailbase",
    "tail1",
    "tail2",
    "tail3",
]
MIRROR_MOUSE = [
    "paw1LH_top",
    "paw2LF_top",
    "paw3RF_top",
    "paw4RH_top",
    "tailBase_top",
    "tailMid_top",
    "nose_top",
    "obs_top",
    "paw1LH_bot",
    "paw2LF_bot",
    "paw3RF_bot",
    "paw4RH_bot",
    "tailBase_bot",
    "tailMid_bot",
    "nose_bot",
    "obsHigh_bot",
    "obsLow_bot",
]
FISH = [
    "chin_base",
    "chin1_4",
    "chin_half",
    "chin3_4",
    "chin_tip",
    "mid",
    "fork",
    "stripeA",
    "stripeP",
    "tail_dorsal",
    "tail_ventral",
    "anal",
    "dorsal",
    "pelvic",
    "pectoral",
    "eye_top",
    "eye_bottom",
    "tail",
]
HORSE = [
    "Nose",
    "Eye",
    "Nearknee",
    "Nearfrontfetlock",
    "Nearfrontfoot",
    "Offknee",
    "Offfrontfetlock",
    "Offfrontfoot",
    "Shoulder",
    "Midshoulder",
    "Elbow",
    "Girth",
    "Wither",
    "Nearhindhock",
    "Nearhindfetlock",
    "Nearhindfoot",
    "Hip",
    "Stifle",
    "Offhindhock",
    "Offhindfetlock",
    "Offhindfoot",
    "Ischium",
]
IBL_PAW = ["paw_l", "paw_r"]
MACAQUE = ["nose", "left_eye", "right_eye", "left_hand", "right_hand", "left_foot", "right_foot", "tail_base"]

DERIVED = {
    "coco": (COCO_KEYPOINT_NAMES, [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]),
    "openfield": (OPENFIELD, [0, 2, 1, 3]),
    "reaching": (REACHING, [0, 1, 2, 3, 4]),
    "trimice": (TRIMICE, [0, 2, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    "fish": (FISH, list(range(18))),
    "horse": (HORSE, [0, 1, 5, 6, 7, 2, 3, 4, 8, 9, 10, 11, 12, 18, 19, 20, 16, 17, 13, 14, 15, 21]),
    "ibl_paw": (IBL_PAW, [1, 0]),
    "macaque": (MACAQUE, [0, 2, 1, 4, 3, 6, 5, 7]),
}


@pytest.mark.parametrize("dataset", sorted(DERIVED))
def test_resolve_derives_pairs_from_names(dataset: str) -> None:
    names, expected = DERIVED[dataset]
    index, summary = resolve_flip_index(names)
    assert index == expected
    assert summary.startswith("flip pairs (derived from names): ")
    if expected == list(range(len(names))):
        assert summary.endswith("none, no keypoint name has a side")


def test_resolve_summaries_name_the_pairs() -> None:
    assert resolve_flip_index(OPENFIELD).summary == "flip pairs (derived from names): leftear<->rightear"
    assert resolve_flip_index(HORSE).summary == (
        "flip pairs (derived from names): Nearknee<->Offknee, Nearfrontfetlock<->Offfrontfetlock, "
        "Nearfrontfoot<->Offfrontfoot, Nearhindhock<->Offhindhock, Nearhindfetlock<->Offhindfetlock, "
        "Nearhindfoot<->Offhindfoot"
    )
    assert resolve_flip_index(WFLW_KEYPOINT_NAMES).summary.endswith("right_contour_7<->left_contour_7, ... (+36 more)")


def test_resolve_wflw_matches_mmpose() -> None:
    ref = list(range(98))
    for a, b in MMPOSE_WFLW_PAIRS:
        ref[a], ref[b] = b, a
    assert resolve_flip_index(WFLW_KEYPOINT_NAMES).index == ref == flip_index_from_names(WFLW_KEYPOINT_NAMES)


@pytest.mark.parametrize(
    "names",
    [
        ["leftear", "rightear"],
        ["Leftear", "Rightear"],
        ["LEFTEAR", "RIGHTEAR"],
        ["earleft", "earright"],
        ["ear_left", "ear_right"],
        ["left_ear", "right_ear"],
        ["LeftEar", "RightEar"],
        ["Left Ear", "Right Ear"],
        ["ear-left", "ear-right"],
        ["ear_l", "ear_r"],
        ["l_ear", "r_ear"],
        ["ear_L", "ear_R"],
        ["L_ear", "R_ear"],
        ["earLeft", "earRight"],
        ["leftmost", "rightmost"],
        ["near_fore", "off_fore"],
        ["NearFore", "OffFore"],
    ],
)
def test_resolve_name_styles(names: list[str]) -> None:
    index, summary = resolve_flip_index(["nose", *names])
    assert index == [0, 2, 1]
    assert summary == f"flip pairs (derived from names): {names[0]}<->{names[1]}"


@pytest.mark.parametrize(
    "names, unpaired",
    [
        (MIRROR_MOUSE, "paw1LH_top, paw2LF_top, paw3RF_top, paw4RH_top, paw1LH_bot, paw2LF_bot, ... (+2 more)"),
        (["head", "left_hand", "tail"], "left_hand (no right_hand)"),
        (
            ["pupil_top_r", "pupil_right_r", "pupil_bottom_r", "pupil_left_r"],
            (
                "pupil_top_r (no pupil_top_l), pupil_right_r (no pupil_left_l), pupil_bottom_r (no pupil_bottom_l), "
                "pupil_left_r (no pupil_right_l)"
            ),
        ),
        (["L1", "R1"], "L1, R1"),
        (["LH", "RH", "LF", "RF"], "LH, RH, LF, RF"),
        (["FLpaw", "FRpaw", "HLpaw", "HRpaw"], "FLpaw, FRpaw, HLpaw, HRpaw"),
        (["paw_fl", "paw_fr", "hl", "hr"], "paw_fl, paw_fr, hl, hr"),
        (["corner_TL", "corner_TR", "corner_BL", "corner_BR"], "corner_TL, corner_TR, corner_BL, corner_BR"),
        (["nose", "lhip", "rhip"], "lhip (l/r twin of rhip), rhip (l/r twin of lhip)"),
        (["NOSE", "LHIP", "RHIP"], "LHIP (l/r twin of RHIP), RHIP (l/r twin of LHIP)"),
        (["T13", "L1", "L2"], "L1, L2"),  # lumbar vertebrae look sided: dataset.flip_pairs=[] says otherwise
    ],
)
def test_resolve_flip_off_when_sided_names_cannot_be_paired(names: list[str], unpaired: str) -> None:
    index, summary = resolve_flip_index(names)
    assert index is None
    first = unpaired.split(",")[0].split(" (")[0]
    assert summary == (
        f"flip off: keypoint names look sided but the pairs could not be derived ({unpaired}); give them with "
        f"dataset.flip_pairs=[[{first}, <its mirror>], ...] or dataset.flip_pairs=[] if no keypoint has a side"
    )
    with pytest.raises(ValueError, match="cannot derive flip pairs"):
        flip_index_from_names(names)


NOT_SIDED = [
    "nose",
    "snout",
    "tailbase",
    "withers",
    "Wither",
    "shoulder",
    "throat",
    "lower_lip",
    "upper_lip",
    "LowerLip",
    "UpperLip",
    "Lip",
    "chin",
    "forehead",
    "Hand",
    "Finger1",
    "Joystick1",
    "spine1",
    "tail1",
    "mid",
    "fork",
    "obsLow_bot",
    "obsHigh_bot",
    "tailBase_top",
    "tailMid_top",
    "Rostrum",
    "rear",
    "lateral",
    "medial",
    "Elbow",
    "Stifle",
    "Ischium",
    "thorax",
    "abdomen",
    "wing_tip",
    "hindpaw",
    "forepaw",
    "pupil_center",
    "CR",
    "LED",
    "ROI",
    "RGB",
    "bright_spot",
    "cleft",
    "upright",
    "r",
    "L",
    "T13",
    "C7",
    "stripeP",
    "chin3_4",
    "tail_ventral",
]


def test_ordinary_names_do_not_look_sided() -> None:
    assert sided_names(NOT_SIDED) == []
    assert resolve_flip_index(NOT_SIDED).index == list(range(len(NOT_SIDED)))


def test_sided_names() -> None:
    assert sided_names(TRIMICE) == ["leftear", "rightear"]
    assert sided_names(MIRROR_MOUSE) == [n for n in MIRROR_MOUSE if n.startswith("paw")]
    assert sided_names(["hl", "nose", "ear_l", "x_l"]) == ["hl", "ear_l", "x_l"]


@pytest.mark.parametrize("dataset", sorted(DERIVED))
def test_flipping_twice_is_identity(dataset: str) -> None:
    names, _ = DERIVED[dataset]
    index = resolve_flip_index(names).index
    kps = np.random.default_rng(0).uniform(0, 100, (len(names), 2))
    once = kps[index] * [-1, 1] + [100, 0]
    np.testing.assert_allclose(once[index] * [-1, 1] + [100, 0], kps)


def test_resolve_explicit_pairs_by_index_name_and_mixed() -> None:
    expected = [3, 2, 1, 0, 4, 5, 6, 7, 11, 10, 9, 8, 12, 13, 14, 15, 16]
    by_name = [
        ["paw1LH_top", "paw4RH_top"],
        ["paw2LF_top", "paw3RF_top"],
        ["paw1LH_bot", "paw4RH_bot"],
        ["paw2LF_bot", "paw3RF_bot"],
    ]
    index, summary = resolve_flip_index(MIRROR_MOUSE, by_name)
    assert index == expected
    assert summary == (
        "flip pairs (dataset.flip_pairs): paw1LH_top<->paw4RH_top, paw2LF_top<->paw3RF_top, "
        "paw1LH_bot<->paw4RH_bot, paw2LF_bot<->paw3RF_bot"
    )
    assert resolve_flip_index(MIRROR_MOUSE, [[0, 3], [1, 2], (8, 11), [9, 10]]).index == expected
    assert resolve_flip_index(MIRROR_MOUSE, [[0, "paw4RH_top"], ["paw2LF_top", 2], [8, 11], [9, 10]]).index == expected
    summary = "flip pairs (dataset.flip_pairs): leftear<->rightear"
    assert resolve_flip_index(OPENFIELD, [[1, 2]]) == ([0, 2, 1, 3], summary)


def test_resolve_explicit_pairs_note_unpaired_sided_names() -> None:
    index, summary = resolve_flip_index(MIRROR_MOUSE, [["paw1LH_top", "paw4RH_top"]], key="data.pairs")
    assert index == [3, 1, 2, 0] + list(range(4, 17))
    assert summary == (
        "flip pairs (data.pairs): paw1LH_top<->paw4RH_top; note: paw2LF_top, paw3RF_top, paw1LH_bot, paw2LF_bot, "
        "paw3RF_bot, paw4RH_bot look(s) sided but are in no pair"
    )


def test_resolve_empty_pairs_means_no_side() -> None:
    assert resolve_flip_index(REACHING, []) == (list(range(5)), "flip pairs: none (dataset.flip_pairs=[])")
    index, summary = resolve_flip_index(["T13", "L1", "L2"], [])
    assert index == [0, 1, 2]
    assert summary == "flip pairs: none (dataset.flip_pairs=[]); note: L1, L2 look(s) sided but are in no pair"
    note = "note: leftear, rightear look(s) sided but are in no pair"
    assert resolve_flip_index(OPENFIELD, []).summary.endswith(note)


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([[0]], r"dataset.flip_pairs: pair \[0\] must be two keypoints"),
        ([[0, 1, 2]], r"pair \[0, 1, 2\] must be two keypoints"),
        (["ab"], r"pair ab must be two keypoints"),
        ([3], r"pair 3 must be two keypoints"),
        ([[0, 4]], r"pair \[0, 4\]: index 4 out of range 0..3"),
        ([[-1, 0]], r"pair \[-1, 0\]: index -1 out of range 0..3"),
        (
            [["leftear", "rightearr"]],
            (
                r"pair \['leftear', 'rightearr'\]: unknown keypoint name 'rightearr' "
                r"\(did you mean 'rightear'\?\)"
            ),
        ),
        ([["leftear", "tail"]], r"unknown keypoint name 'tail'"),
        ([[1, 1]], r"pair \[1, 1\] pairs a keypoint with itself"),
        ([["leftear", 1]], r"pairs a keypoint with itself"),
        ([[0, 1], [1, 2]], r"pair \[1, 2\]: keypoint 'leftear' is already in pair \[0, 1\]"),
        ([[0.5, 1]], r"pair \[0.5, 1\]: 0.5 is not a 0-based index or a keypoint name"),
        ([[True, 1]], r"True is not a 0-based index"),
    ],
)
def test_resolve_rejects_bad_pairs(pairs: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_flip_index(OPENFIELD, pairs)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ValueError, match=r"duplicate keypoint names \['ear'\]"):
        resolve_flip_index(["ear", "nose", "ear"])
    with pytest.raises(ValueError, match="duplicate"):
        resolve_flip_index(["ear", "ear"], [[0, 1]])


def test_flip_from_pairs_checks_every_pair() -> None:
    assert flip_index_from_pairs([], 3) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"flip_pairs: pair \[0, 0\] pairs a keypoint with itself"):
        flip_index_from_pairs([[0, 0]], 3)
    with pytest.raises(ValueError, match="already in pair"):
        flip_index_from_pairs([[0, 1], [2, 1]], 3)
    with pytest.raises(ValueError, match="'a' is not a 0-based index"):
        flip_index_from_pairs([["a", 1]], 3)
