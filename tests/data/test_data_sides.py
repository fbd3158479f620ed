"""Side rules (lit_heatmap.data.sides) on real keypoint names of DeepLabCut, lightning-pose, SLEAP and
MMPose animal datasets: which names pair, and when flip must be off.

The expected pairs are written by hand as name pairs (the oracle), turned into the permutation here.
"""

from __future__ import annotations

import pytest

from lit_heatmap.data.sides import resolve_flip_index, sided_names

# MMPose AP-10K (configs/_base_/datasets/ap10k.py), 17 keypoints
AP10K = [
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow", "left_front_paw",
    "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
    "right_knee", "right_back_paw",
]  # fmt: skip
# MMPose animalpose (configs/_base_/datasets/animalpose.py), 20 keypoints
ANIMALPOSE = [
    "L_Eye", "R_Eye", "L_EarBase", "R_EarBase", "Nose", "Throat", "TailBase", "Withers", "L_F_Elbow", "R_F_Elbow",
    "L_B_Elbow", "R_B_Elbow", "L_F_Knee", "R_F_Knee", "L_B_Knee", "R_B_Knee", "L_F_Paw", "R_F_Paw", "L_B_Paw",
    "R_B_Paw",
]  # fmt: skip
# SLEAP's fly32 skeleton (a subset)
SLEAP_FLY = ["head", "thorax", "abdomen", "wingL", "wingR", "forelegL4", "forelegR4", "midlegL4", "midlegR4", "eyeL"]
# lightning-pose mirror-mouse: the paw codes are ambiguous (is paw1LH's mirror paw1RH or paw4RH?)
MIRROR_MOUSE = ["paw1LH_top", "paw2LF_top", "paw3RF_top", "paw4RH_top", "tailBase_top", "nose_top", "obs_top"]


def _pairs(names: list[str], pairs: list[tuple[str, str]]) -> list[int]:
    out = list(range(len(names)))
    for a, b in pairs:
        out[names.index(a)], out[names.index(b)] = names.index(b), names.index(a)
    return out


CASES = {
    # DeepLabCut: glued side words, also inside a compound name (flip used to swap these silently)
    "dlc_openfield": (["snout", "leftear", "rightear", "tailbase"], [("leftear", "rightear")]),
    "dlc_compound": (
        ["snout", "frontleftpaw", "frontrightpaw", "hindleftpaw", "hindrightpaw", "tailbase"],
        [("frontleftpaw", "frontrightpaw"), ("hindleftpaw", "hindrightpaw")],
    ),
    "dlc_compound_side_first": (["pawleftfront", "pawrightfront", "nose"], [("pawleftfront", "pawrightfront")]),
    "dlc_compound_upper": (["FRONTLEFTPAW", "FRONTRIGHTPAW", "NOSE"], [("FRONTLEFTPAW", "FRONTRIGHTPAW")]),
    "dlc_camel": (["frontLeftPaw", "frontRightPaw"], [("frontLeftPaw", "frontRightPaw")]),
    "words": (["left_ear", "right_ear", "LeftEar", "RightEar"], [("left_ear", "right_ear"), ("LeftEar", "RightEar")]),
    "letters": (["ear_l", "ear_r", "l_eye", "r_eye"], [("ear_l", "ear_r"), ("l_eye", "r_eye")]),
    "ap10k": (
        AP10K,
        [
            ("left_eye", "right_eye"),
            ("left_shoulder", "right_shoulder"),
            ("left_elbow", "right_elbow"),
            ("left_front_paw", "right_front_paw"),
            ("left_hip", "right_hip"),
            ("left_knee", "right_knee"),
            ("left_back_paw", "right_back_paw"),
        ],
    ),
    "animalpose": (ANIMALPOSE, [(a, "R" + a[1:]) for a in ANIMALPOSE if a.startswith("L_")]),
    "sleap_fly": (
        SLEAP_FLY[:-1],
        [("wingL", "wingR"), ("forelegL4", "forelegR4"), ("midlegL4", "midlegR4")],
    ),
    "camel_letter_first": (["LEar", "REar", "Nose"], [("LEar", "REar")]),
    "english_words": (["bright_spot", "cleft", "upright", "topleft", "topright"], [("topleft", "topright")]),
}

FLIP_OFF = {
    "dlc_one_compound": (["snout", "hindleftpaw", "tailbase"], "hindleftpaw (no hindrightpaw)"),
    "dlc_compound_upper_alone": (["FRONTLEFTPAW", "NOSE"], "FRONTLEFTPAW (no FRONTRIGHTPAW)"),
    "sleap_fly_one_eye": (SLEAP_FLY, "eyeL (no eyeR)"),
    "mirror_mouse": (MIRROR_MOUSE, "paw1LH_top, paw2LF_top, paw3RF_top, paw4RH_top"),
    "vertebrae": (["T13", "L1", "L2"], "L1, L2"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_names_pair_by_their_side_word(case: str) -> None:
    names, pairs = CASES[case]
    index, summary = resolve_flip_index(names)
    assert index == _pairs(names, pairs)
    assert summary.startswith("flip pairs (derived from names): ")
    assert sorted(sided_names(names)) == sorted(n for p in pairs for n in p)


@pytest.mark.parametrize("case", sorted(FLIP_OFF))
def test_sided_names_without_a_mirror_turn_flip_off(case: str) -> None:
    names, unpaired = FLIP_OFF[case]
    index, summary = resolve_flip_index(names)
    assert index is None
    assert summary.startswith(f"flip off: keypoint names look sided but the pairs could not be derived ({unpaired})")


def test_compound_names_are_not_called_unsided() -> None:
    """The audit's case: setup printed "no keypoint name has a side" for frontleftpaw/frontrightpaw."""
    names = ["snout", "frontleftpaw", "frontrightpaw"]
    summary = resolve_flip_index(names).summary
    assert "no keypoint name has a side" not in summary
    assert summary == "flip pairs (derived from names): frontleftpaw<->frontrightpaw"
