"""Top-down protocol kernels (rescoring, OKS-NMS) against a NumPy transcription of MMPose and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lit_heatmap.data.geometry import bbox_to_center_size, crop_matrix, invert_affine
from lit_heatmap.facts import COCO_SIGMAS
from lit_heatmap.metrics.functional.topdown import (
    crop_areas,
    keypoint_areas,
    oks_nms,
    pairwise_nms_oks,
    rescore,
    topdown_results,
)

# ----------------------------------------------------------------------------------------------------
# Reference: MMPose's ``oks_iou`` / ``oks_nms`` (vis_thr=None), transcribed with loops, one image at a time.
# Two documented project rules are added on top: NaN scores rank as -inf, and an instance with a
# non-finite keypoint (or area) neither suppresses nor is suppressed.
# ----------------------------------------------------------------------------------------------------


def ref_oks_iou(g, d, a_g, a_d, sigmas, iou_dtype=np.float32):
    """MMPose ``oks_iou`` with ``vis_thr=None``; MMPose stores the result as float32 (``iou_dtype``)."""
    vars = (sigmas * 2) ** 2
    xg = g[0::3]
    yg = g[1::3]
    ious = np.zeros(len(d), dtype=iou_dtype)
    for n_d in range(len(d)):
        xd = d[n_d, 0::3]
        yd = d[n_d, 1::3]
        dx = xd - xg
        dy = yd - yg
        e = (dx**2 + dy**2) / vars / ((a_g + a_d[n_d]) / 2 + np.spacing(1)) / 2
        ious[n_d] = np.sum(np.exp(-e)) / len(e) if len(e) != 0 else 0.0
    return ious


def ref_oks_nms(kpts_db, thr, sigmas, iou_dtype=np.float32):
    """MMPose ``oks_nms``; order = reverse of a stable ascending argsort (the tie rule)."""
    if len(kpts_db) == 0:
        return []
    scores = np.array([k["score"] for k in kpts_db])
    kpts = np.array([k["keypoints"].flatten() for k in kpts_db])
    areas = np.array([k["area"] for k in kpts_db])
    valid = np.array([k["valid"] for k in kpts_db])
    order = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(i)
        oks_ovr = ref_oks_iou(kpts[i], kpts[order[1:]], areas[i], areas[order[1:]], sigmas, iou_dtype)
        # thr is a Python float: numpy compares the float32 ious in float32, as in MMPose
        inds = np.where((oks_ovr <= thr) | ~valid[order[1:]] | ~valid[i])[0]
        order = order[inds + 1]
    return keep


def ref_nms(kpts, scores, image_ids, sigmas, thr, areas=None, float32_oks=True) -> np.ndarray:
    """Group by image (input order kept), build MMPose's ``kpts_db`` and run :func:`ref_oks_nms`."""
    n, k = kpts.shape[:2]
    keep = np.zeros(n, dtype=bool)
    if thr is None:
        return ~keep
    with np.errstate(all="ignore"):
        for img in dict.fromkeys(image_ids.tolist()):
            idx = np.flatnonzero(image_ids == img)
            db = []
            for i in idx:
                kp = np.concatenate([kpts[i], np.ones((k, 1))], -1)  # (K, 3) as MMPose's keypoints
                if areas is None:
                    area = (np.max(kp[:, 0]) - np.min(kp[:, 0])) * (np.max(kp[:, 1]) - np.min(kp[:, 1]))
                else:
                    area = areas[i]
                score = -np.inf if np.isnan(scores[i]) else scores[i]
                db.append(
                    {
                        "keypoints": kp,
                        "score": score,
                        "area": area,
                        "valid": bool(np.isfinite(kpts[i]).all() and np.isfinite(area)),
                    }
                )
            kept = ref_oks_nms(db, float(thr), sigmas, np.float32 if float32_oks else np.float64)
            keep[idx[np.asarray(kept, dtype=int)]] = True
    return keep


def ours(kpts, scores, image_ids, sigmas, thr, areas=None, float32_oks=True, **kw) -> np.ndarray:
    out = oks_nms(
        torch.as_tensor(kpts),
        torch.as_tensor(scores),
        torch.as_tensor(image_ids),
        torch.as_tensor(sigmas),
        thr,
        None if areas is None else torch.as_tensor(areas),
        float32_oks=float32_oks,
        **kw,
    )
    assert out.dtype == torch.bool and out.shape == (len(scores),)
    return out.numpy()


def random_case(rng: np.random.Generator, nan_rate: float = 0.0, given_areas: bool = False):
    """Many images with 1..30 instances in clusters of near-duplicates (noise from tiny to large)."""
    k = int(rng.choice([1, 2, 3, 5, 17, 24]))
    sigmas = np.array(COCO_SIGMAS) if k == 17 and rng.random() < 0.5 else rng.uniform(0.02, 0.12, k)
    n_img = int(rng.integers(20, 50))
    image_ids = rng.choice(10**6, n_img, replace=False)
    kpts, img = [], []
    for i in range(n_img):
        m = int(rng.integers(1, 31))
        n_clusters = int(rng.integers(1, 5))
        size = rng.uniform(20, 150, n_clusters)
        base = rng.uniform(0, 400, (n_clusters, 1, 2)) + rng.uniform(0, 1, (n_clusters, k, 2)) * size[:, None, None]
        c = rng.integers(0, n_clusters, m)
        noise = np.exp(rng.uniform(np.log(0.002), np.log(0.2), m)) * size[c]
        kpts.append(base[c] + rng.normal(0, 1, (m, k, 2)) * noise[:, None, None])
        img.append(np.full(m, image_ids[i]))
    kpts, img = np.concatenate(kpts), np.concatenate(img)
    perm = rng.permutation(len(img))  # interleave images in the input
    kpts, img = kpts[perm], img[perm]
    n = len(img)
    scores = rng.uniform(0, 1, n)
    if rng.random() < 0.5:
        scores = np.round(scores, 1)  # many ties
    if nan_rate:
        bad = rng.random(n) < nan_rate
        kpts[bad, rng.integers(0, k, n)[bad], rng.integers(0, 2, n)[bad]] = rng.choice([np.nan, np.inf], bad.sum())
    areas = rng.uniform(100, 20000, n) if given_areas else None
    return kpts, scores, img, sigmas, areas


# ----------------------------------------------------------------------------------------------------
# OKS-NMS against the reference
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("thr", [0.5, 0.9])
@pytest.mark.parametrize("float32_oks", [True, False])
def test_random_cases_match_reference(thr: float, float32_oks: bool) -> None:
    failures = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        kpts, scores, img, sigmas, areas = random_case(
            rng, nan_rate=0.02 if seed % 3 == 1 else 0.0, given_areas=seed % 4 == 3
        )
        ref = ref_nms(kpts, scores, img, sigmas, thr, areas, float32_oks)
        got = ours(kpts, scores, img, sigmas, thr, areas, float32_oks)
        if not np.array_equal(got, ref):
            failures.append((seed, np.flatnonzero(got != ref).tolist()))
    assert not failures, failures


def test_random_cases_are_not_trivial() -> None:
    """Suppression really happens (and not to everything), with ties and multi-instance images."""
    for thr in (0.5, 0.9):
        fracs, ties = [], 0
        for seed in range(8):
            kpts, scores, img, sigmas, _ = random_case(np.random.default_rng(seed))
            keep = ref_nms(kpts, scores, img, sigmas, thr)
            fracs.append(keep.mean())
            ties += len(scores) - len(np.unique(scores))
        assert 0.2 < np.mean(fracs) < 0.9, (thr, fracs)
        assert min(fracs) < 1.0 and ties > 100


def test_chunking_and_skewed_images() -> None:
    """Tiny OKS blocks (many chunks) and one crowded image among small ones give the same result."""
    rng = np.random.default_rng(123)
    kpts, scores, img, sigmas, _ = random_case(rng)
    while kpts.shape[1] < 5:  # with K = 1 the keypoint box has area 0: only exact duplicates overlap
        kpts, scores, img, sigmas, _ = random_case(rng)
    noise = np.exp(rng.uniform(np.log(0.01), np.log(10.0), (150, 1, 1)))
    big = np.repeat(kpts[:1], 150, 0) + rng.normal(0, 1, (150,) + kpts.shape[1:]) * noise
    kpts = np.concatenate([kpts, big])
    scores = np.concatenate([scores, rng.uniform(0, 1, 150)])
    img = np.concatenate([img, np.full(150, -7)])
    ref = ref_nms(kpts, scores, img, sigmas, 0.9)
    assert 0 < ref[-150:].sum() < 150
    for chunk in (1, 50, 1000, 1 << 22):
        assert np.array_equal(ours(kpts, scores, img, sigmas, 0.9, chunk_pairs=chunk), ref), chunk


# ----------------------------------------------------------------------------------------------------
# Hand-made cases
# ----------------------------------------------------------------------------------------------------

SIG2 = np.array([0.5, 0.25])  # (2 sigma)^2 = 1.0 and 0.25


def _pose(x: float, y: float) -> np.ndarray:
    """A 2-keypoint instance spanning a 40 x 30 box at (x, y)."""
    return np.array([[x, y], [x + 40.0, y + 30.0]])


def test_nms_oks_golden() -> None:
    # g = (0,0),(4,3): area = 4*3 = 12; d = (1,1),(4,3): area = (4-1)*(3-1) = 6; mean area = 9 (+eps).
    # keypoint 1: d^2 = 1 + 1 = 2, (2*0.5)^2 = 1 -> e = 2 / 1 / 9 / 2 = 1/9; keypoint 2: d^2 = 0 -> e = 0.
    # OKS = (exp(-1/9) + exp(0)) / 2 = (0.894839316814370 + 1) / 2 = 0.947419658407185
    kp = torch.tensor([[[0.0, 0.0], [4.0, 3.0]], [[1.0, 1.0], [4.0, 3.0]]], dtype=torch.float64)
    areas = keypoint_areas(kp)
    assert areas.tolist() == [12.0, 6.0]
    oks = pairwise_nms_oks(kp, areas, SIG2)
    assert oks.shape == (2, 2)
    assert oks[0, 1].item() == pytest.approx(0.947419658407185, abs=1e-14)
    assert oks[1, 0].item() == oks[0, 1].item()
    assert oks[0, 0].item() == 1.0 and oks[1, 1].item() == 1.0
    # the same value decides NMS: suppressed just below it, kept just above
    ids, sc = np.zeros(2, dtype=int), np.array([0.9, 0.8])
    assert ours(kp.numpy(), sc, ids, SIG2, 0.947).tolist() == [True, False]
    assert ours(kp.numpy(), sc, ids, SIG2, 0.948).tolist() == [True, True]


def test_keypoint_areas_and_batch_shape() -> None:
    kp = torch.tensor([[[[1.0, 5.0], [4.0, 2.0], [2.0, 9.0]]]])  # (1, 1, 3, 2): x 1..4, y 2..9
    assert keypoint_areas(kp).tolist() == [[21.0]]
    assert pairwise_nms_oks(torch.zeros(3, 4, 2, 2), torch.ones(3, 4), SIG2).shape == (3, 4, 4)


def test_ties_in_score() -> None:
    """Equal scores: the later instance ranks first (reverse of a stable ascending sort)."""
    kpts = np.stack([_pose(0, 0), _pose(300, 0), _pose(300.5, 0.2), _pose(0.3, 0.1), _pose(300.2, 0)])
    scores = np.array([0.5, 0.8, 0.8, 0.5, 0.8])
    ids = np.zeros(5, dtype=int)
    # {1, 2, 4} near-duplicates with equal scores -> 4 (the last) wins; {0, 3} -> 3 wins
    expected = [False, False, False, True, True]
    assert ours(kpts, scores, ids, SIG2, 0.9).tolist() == expected
    assert ref_nms(kpts, scores, ids, SIG2, 0.9).tolist() == expected
    # the rule follows the input order within the image, also with other images interleaved
    kpts2 = np.concatenate([kpts[:2], _pose(0, 0)[None], kpts[2:]])
    ids2 = np.array([5, 5, 9, 5, 5, 5])
    scores2 = np.concatenate([scores[:2], [0.5], scores[2:]])
    assert ours(kpts2, scores2, ids2, SIG2, 0.9).tolist() == [False, False, True, False, True, True]


def test_single_identical_and_exact_threshold() -> None:
    ids = np.zeros(2, dtype=int)
    # an image with a single instance is kept, whatever the threshold
    assert ours(_pose(0, 0)[None], np.array([0.1]), np.array([3]), SIG2, 0.0).tolist() == [True]
    # two identical instances: OKS is exactly 1 (exp(0) twice, / 2)
    same = np.stack([_pose(0, 0), _pose(0, 0)])
    assert pairwise_nms_oks(torch.as_tensor(same), keypoint_areas(torch.as_tensor(same)), SIG2)[0, 1].item() == 1.0
    assert ours(same, np.array([0.3, 0.7]), ids, SIG2, 0.9).tolist() == [False, True]
    assert ours(same, np.array([0.7, 0.7]), ids, SIG2, 0.9).tolist() == [False, True]  # tie: later first
    for f32 in (True, False):
        assert ours(same, np.array([0.7, 0.3]), ids, SIG2, 1.0, float32_oks=f32).tolist() == [True, True]  # 1 <= 1
    # OKS exactly 0.5: one keypoint identical (exp(0) = 1), the other 10^4 px away (exp(-huge) = 0)
    half = np.stack([_pose(0, 0), np.array([[0.0, 0.0], [1e4, 30.0]])])
    areas = np.array([1200.0, 1200.0])
    oks = pairwise_nms_oks(torch.as_tensor(half), torch.as_tensor(areas), SIG2)[0, 1].item()
    assert oks == 0.5
    for f32 in (True, False):
        below = np.nextafter(np.float32(0.5), np.float32(0)) if f32 else np.nextafter(0.5, 0.0)  # 1 ulp below
        for thr, exp in ((0.5, [True, True]), (float(below), [True, False])):
            got = ours(half, np.array([0.7, 0.3]), ids, SIG2, thr, areas, float32_oks=f32).tolist()
            assert got == exp == ref_nms(half, np.array([0.7, 0.3]), ids, SIG2, thr, areas, f32).tolist()


def test_float32_comparison_as_mmpose() -> None:
    """An OKS a hair above 0.9 rounds to float32(0.9): MMPose keeps it; the float64 comparison drops it."""
    # K = 1, sigma 0.5 ((2 sigma)^2 = 1), areas 1: OKS = exp(-dx^2 / (1 + eps) / 2)
    target = 0.900000003
    dx = math.sqrt(-2.0 * math.log(target))
    kpts = np.array([[[0.0, 0.0]], [[dx, 0.0]]])
    areas, sig, ids, sc = np.ones(2), np.array([0.5]), np.zeros(2, dtype=int), np.array([0.9, 0.1])
    oks = pairwise_nms_oks(torch.as_tensor(kpts), torch.as_tensor(areas), sig)[0, 1].item()
    assert 0.9 < oks < 0.900000006 and np.float32(oks) == np.float32(0.9)
    assert ref_nms(kpts, sc, ids, sig, 0.9, areas, float32_oks=True).tolist() == [True, True]
    assert ref_nms(kpts, sc, ids, sig, 0.9, areas, float32_oks=False).tolist() == [True, False]
    assert ours(kpts, sc, ids, sig, 0.9, areas, float32_oks=True).tolist() == [True, True]
    assert ours(kpts, sc, ids, sig, 0.9, areas, float32_oks=False).tolist() == [True, False]


def test_empty_input_threshold_none_and_images_apart() -> None:
    empty = oks_nms(torch.zeros(0, 2, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long), SIG2)
    assert empty.shape == (0,) and empty.dtype == torch.bool
    kpts = np.stack([_pose(0, 0)] * 4)
    assert ours(kpts, np.array([0.1, 0.2, 0.3, 0.4]), np.zeros(4, dtype=int), SIG2, None).tolist() == [True] * 4
    # identical instances on different images never suppress each other
    assert ours(kpts, np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 2, 1, 2]), SIG2, 0.9).tolist() == [
        False,
        False,
        True,
        True,
    ]


def test_non_finite_instances() -> None:
    """A NaN/inf instance has OKS 0 with everybody: it neither suppresses nor is suppressed."""
    kpts = np.stack([_pose(0, 0)] * 4)
    kpts[1, 0, 0] = np.nan  # ranked first (score 0.9)
    kpts[3, 1, 1] = np.inf
    scores = np.array([0.5, 0.9, 0.7, 0.6])
    ids = np.zeros(4, dtype=int)
    # ranks: 1 (NaN, kept, suppresses nothing), 2 (kept), 3 (inf, not suppressed), 0 (suppressed by 2)
    expected = [False, True, True, True]
    for thr in (0.9, -1.0):
        assert ours(kpts, scores, ids, SIG2, thr).tolist() == expected
        assert ref_nms(kpts, scores, ids, SIG2, thr).tolist() == expected
    # a non-finite given area makes the instance invalid as well; NaN scores rank last
    areas = np.array([1200.0, 1200.0, np.nan, 1200.0])
    clean = np.stack([_pose(0, 0)] * 4)
    assert ours(clean, np.array([0.5, np.nan, 0.9, 0.1]), ids, SIG2, 0.9, areas).tolist() == [True, False, True, False]


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        oks_nms(torch.zeros(3, 5, 2), torch.zeros(3), torch.zeros(3), SIG2)  # K=5 vs 2 sigmas
    with pytest.raises(ValueError):
        oks_nms(torch.zeros(2, 2, 2), torch.zeros(3), torch.zeros(3), SIG2)  # N mismatch


# ----------------------------------------------------------------------------------------------------
# Rescoring and the combined helper
# ----------------------------------------------------------------------------------------------------


def test_rescore_hand_values() -> None:
    ks = torch.tensor(
        [
            [0.1, 0.3, 0.5, 0.2],  # 0.3, 0.5 pass (0.2 is not > 0.2): mean 0.4, x 0.8 = 0.32
            [0.1, 0.2, 0.0, 0.15],  # none passes -> 0
            [0.9, 0.7, 0.8, 0.6],  # all pass: mean 0.75, x 0.5 = 0.375
            [float("nan"), 0.6, 0.1, 1.0],  # NaN never passes: mean 0.8, x 1.0 = 0.8
        ]
    )
    box = torch.tensor([0.8, 0.9, 0.5, 1.0])
    got = rescore(ks, box, 0.2)
    assert got.dtype == torch.float64 and got.shape == (4,)

    def f(x: float) -> float:  # the float32 value of x, as a Python (float64) number
        return float(np.float32(x))

    exp = [(f(0.3) + f(0.5)) / 2 * f(0.8), 0.0, (f(0.9) + f(0.7) + f(0.8) + f(0.6)) / 4 * f(0.5), (f(0.6) + f(1.0)) / 2]
    np.testing.assert_allclose(got.numpy(), np.array(exp, dtype=np.float64), rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.numpy(), [0.32, 0.0, 0.375, 0.8], rtol=1e-6)
    assert rescore(ks, box, 0.0)[1].item() == pytest.approx((0.1 + 0.2 + 0.15) / 3 * 0.9, rel=1e-6)


def test_topdown_results_rescoring_decides_the_survivor() -> None:
    kpts = torch.tensor(np.stack([_pose(0, 0), _pose(0.5, 0.5), _pose(200, 0)]))
    # instance 0: box 0.9, keypoints (0.1, 0.3) -> 0.9 * 0.3 = 0.27
    # instance 1: box 0.6, keypoints (0.5, 0.7) -> 0.6 * 0.6 = 0.36 (wins over its near-duplicate 0)
    # instance 2: box 0.5, keypoints (0.1, 0.1) -> 0 (kept: nothing near it)
    ks = torch.tensor([[0.1, 0.3], [0.5, 0.7], [0.1, 0.1]], dtype=torch.float64)
    box = torch.tensor([0.9, 0.6, 0.5], dtype=torch.float64)
    keep, scores = topdown_results(kpts, ks, box, torch.zeros(3, dtype=torch.long), None, SIG2)
    np.testing.assert_allclose(scores.numpy(), [0.27, 0.36, 0.0], rtol=1e-12)
    assert keep.tolist() == [False, True, True]
    keep_none, _ = topdown_results(kpts, ks, box, torch.zeros(3, dtype=torch.long), None, SIG2, nms_threshold=None)
    assert keep_none.tolist() == [True, True, True]


# ----------------------------------------------------------------------------------------------------
# The crop area: OKS-NMS's area for top-down predictions
# ----------------------------------------------------------------------------------------------------


def _crop_affine(bbox, input_size=(192, 256), padding=1.25, rotation=0.0, flip=False) -> torch.Tensor:
    """The sample's ``affine`` (input -> original px) for a box, as the data pipeline builds it."""
    center, size = bbox_to_center_size(bbox, input_size, padding)
    return torch.from_numpy(invert_affine(crop_matrix(center, size, input_size, rotation, flip)))


def test_crop_areas_golden() -> None:
    # a 100 x 50 box, input 192 x 256 (w / h = 0.75): 100 > 0.75 * 50, so the height becomes 100 / 0.75 =
    # 133.33; padded by 1.25: 125 x 166.67 px, area 125 * 500 / 3 = 62500 / 3 = 20833.33
    want = 62500.0 / 3.0
    plain = _crop_affine([10.0, 20.0, 100.0, 50.0])
    assert crop_areas(plain, (192, 256)).item() == pytest.approx(want, rel=1e-12)
    turned = _crop_affine([10.0, 20.0, 100.0, 50.0], rotation=30.0, flip=True)  # det < 0: the area stays
    assert crop_areas(turned, (192, 256)).item() == pytest.approx(want, rel=1e-12)
    assert crop_areas(plain.float(), (192, 256)).item() == pytest.approx(want, rel=1e-6)  # a batch's float32
    # by hand: scale 0.5 in x, 2 in y (det 1) over a 10 x 20 input: 200 px^2; batch shape kept
    hand = torch.tensor([[0.5, 0.0, 3.0], [0.0, 2.0, 4.0]])
    out = crop_areas(hand.expand(2, 3, 2, 3), (10, 20))
    assert out.shape == (2, 3) and out.dtype == torch.float64 and out.unique().tolist() == [200.0]


def test_crop_areas_decide_nms_as_in_mmpose() -> None:
    """Two 40 x 30 poses 8 px apart on both axes: with the keypoint extent (area 1200) their OKS is
    0.878 and both stay; with the crop box (40 x 30 -> 40 x 53.33 -> x 1.25: 50 x 66.67, area 3333.33)
    it is (exp(-128 / 6666.67) + exp(-512 / 6666.67)) / 2 = (0.980983 + 0.926075) / 2 = 0.953529 > 0.9."""
    kpts = np.stack([_pose(0, 0), _pose(8, 8)])
    area = crop_areas(torch.stack([_crop_affine([0.0, 0.0, 40.0, 30.0])] * 2), (192, 256))
    assert area.tolist() == pytest.approx([10000.0 / 3] * 2, rel=1e-12)
    assert pairwise_nms_oks(torch.as_tensor(kpts), area, SIG2)[0, 1].item() == pytest.approx(0.953529, abs=1e-6)
    ks = torch.tensor([[0.9, 0.9], [0.5, 0.5]], dtype=torch.float64)
    one = torch.zeros(2, dtype=torch.long)
    box = torch.ones(2, dtype=torch.float64)
    assert topdown_results(torch.as_tensor(kpts), ks, box, one, None, SIG2)[0].tolist() == [True, True]
    assert topdown_results(torch.as_tensor(kpts), ks, box, one, area, SIG2)[0].tolist() == [True, False]
    assert ref_nms(kpts, ks.mean(1).numpy(), one.numpy(), SIG2, 0.9, area.numpy()).tolist() == [True, False]


def test_topdown_results_with_given_areas_match_reference() -> None:
    """Rescoring (written out) then MMPose's oks_nms with given areas, the plain-loop reference."""
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        kpts, _, img, sigmas, areas = random_case(rng, given_areas=True)
        ks = rng.uniform(0, 1, kpts.shape[:2]).astype(np.float32)
        box = rng.uniform(0.3, 1, len(img))
        above = np.where(ks > np.float32(0.2), ks.astype(np.float64), 0.0)
        n_above = (ks > np.float32(0.2)).sum(1)
        score = box * np.where(n_above > 0, above.sum(1) / np.maximum(n_above, 1), 0.0)
        args = (torch.as_tensor(kpts), torch.as_tensor(ks), torch.as_tensor(box), torch.as_tensor(img))
        keep, got = topdown_results(*args, torch.as_tensor(areas), torch.as_tensor(sigmas))
        np.testing.assert_allclose(got.numpy(), score, rtol=1e-12)
        ref = ref_nms(kpts, got.numpy(), img, sigmas, 0.9, areas)
        assert np.array_equal(keep.numpy(), ref) and 0 < ref.sum() < len(ref), seed
        # the areas matter: the keypoint extent keeps another set
        assert not np.array_equal(ref, ref_nms(kpts, got.numpy(), img, sigmas, 0.9)), seed
