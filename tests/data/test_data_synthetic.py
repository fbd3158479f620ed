"""The procedural default dataset: determinism, keys, geometry, occlusion, left/right semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lit_heatmap.data import KeypointTransform, Synthetic, apply_affine
from lit_heatmap.data.synthetic import SYNTHETIC_KEYPOINT_NAMES

BATCH_KEYS = {
    "image",
    "keypoints",
    "visibility",
    "affine",
    "orig_keypoints",
    "orig_visibility",
    "bbox",
    "area",
    "image_id",
    "score",
    "norm",
}


def test_keys_shapes_dtypes() -> None:
    s = Synthetic(4, input_size=(96, 128))[1]
    assert BATCH_KEYS | {"occluded"} <= set(s)
    assert s["image"].shape == (3, 128, 96) and s["image"].dtype == torch.uint8
    assert s["keypoints"].shape == (14, 2) and s["visibility"].shape == (14,)
    assert s["affine"].shape == (2, 3) and s["bbox"].shape == (4,)
    assert s["occluded"].dtype == torch.bool and s["image_id"].dtype == torch.long
    assert s["image_id"].item() == 1 and s["score"].item() == 1.0
    assert s["norm"].item() == max(s["bbox"][2:]).item()
    assert s["area"].item() == pytest.approx(float(s["bbox"][2] * s["bbox"][3]), rel=1e-6)


def test_deterministic_by_seed_and_index() -> None:
    a, b = Synthetic(10, seed=3), Synthetic(10, seed=3)
    for i in (0, 7):
        torch.testing.assert_close(a[i]["image"], b[i]["image"])
        torch.testing.assert_close(a[i]["keypoints"], b[i]["keypoints"])
    # reading order does not matter
    torch.testing.assert_close(Synthetic(10, seed=3)[7]["image"], a[7]["image"])
    assert not torch.equal(a[0]["image"], a[1]["image"])
    assert not torch.equal(Synthetic(10, seed=4)[0]["keypoints"], a[0]["keypoints"])
    assert not torch.equal(Synthetic(10, seed=3, split="val")[0]["keypoints"], a[0]["keypoints"])


def test_affine_round_trip_and_figure_fills_crop() -> None:
    ds = Synthetic(20)
    for i in range(20):
        s = ds[i]
        back = apply_affine(s["keypoints"].double().numpy(), s["affine"].double().numpy())
        np.testing.assert_allclose(back, s["orig_keypoints"].double().numpy(), atol=0.01)
        assert s["visibility"].sum() == 14  # the whole figure is inside the crop
        k = s["keypoints"]
        extent = (k.max(0).values - k.min(0).values).max().item()
        assert 0.45 * 128 < extent < 128  # joints span most of the input


def test_occluders_hide_a_minority() -> None:
    ds = Synthetic(200, seed=0)
    occ = torch.stack([ds.render(i)[1].keypoint_extra["occluded"] for i in range(200)])
    frac = occ.float().mean().item()
    assert 0.01 < frac < 0.10
    assert occ.any(1).float().mean() < 0.6
    # occluded joints stay labelled
    s = next(ds[i] for i in range(200) if occ[i].any())
    assert s["visibility"][s["occluded"]].eq(1).all()


def test_occluded_joints_are_covered() -> None:
    """Limbs are saturated colours, occluders are near-grey: the pixel under an occluded joint is
    grey, under a visible joint mostly coloured."""
    ds = Synthetic(200, seed=0, occluder_prob=1.0)
    sat_occ, sat_vis = [], []
    for i in range(200):
        img, rec = ds.render(i)
        occ = rec.keypoint_extra["occluded"].numpy()
        ij = np.round(rec.keypoints).astype(int)
        px = img[ij[:, 1], ij[:, 0]].astype(int)
        sat = px.max(1) - px.min(1)
        sat_occ += sat[occ].tolist()
        sat_vis += sat[~occ].tolist()
    assert len(sat_occ) > 50
    assert np.mean(sat_occ) < 50 < 80 < np.mean(sat_vis)


def test_left_is_left_with_and_without_flip() -> None:
    """The figure faces the viewer: an upright figure's left limbs are on the image right. With
    flip on (and the name-derived swap), the keypoint labelled left is still the one on the right
    of the body axis; without the swap it would be the other way round."""
    names = SYNTHETIC_KEYPOINT_NAMES
    pairs = [(names.index(f"left_{p}"), names.index(f"right_{p}")) for p in ("shoulder", "hip")]
    ds = Synthetic(30, seed=1, transform=KeypointTransform((128, 128), train=True))
    ds.transform.rotation = 0.0
    ds.transform.flip_prob = 1.0
    torch.manual_seed(0)
    for i in range(30):
        s = ds[i]
        assert s["flipped"]
        for left, right in pairs:
            assert s["keypoints"][left, 0] > s["keypoints"][right, 0]


def test_ground_truth_is_the_rendered_instances() -> None:
    """Synthetic renders its ground truth (for KeypointAP): one annotation per sample, labelled v=2."""
    ds = Synthetic(3, split="val")
    gt = ds.ground_truth()
    assert [im["id"] for im in gt["images"]] == [0, 1, 2]
    for n, ann in enumerate(gt["annotations"]):
        _, rec = ds.render(n)
        kps = np.asarray(ann["keypoints"]).reshape(14, 3)
        assert ann["image_id"] == n and ann["bbox"] == rec.bbox.tolist() and ann["area"] == rec.area
        assert np.array_equal(kps[:, :2], rec.keypoints) and (kps[:, 2] == 2).all()
