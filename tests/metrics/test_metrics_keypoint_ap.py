"""KeypointAP against pycocotools COCOeval(iouType="keypoints") (the oracle), plus MeanOKS."""

from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("pycocotools")

from lit_heatmap.metrics import KeypointAP, MeanOKS  # noqa: E402
from lit_heatmap.metrics.functional import keypoint_ap, keypoint_oks  # noqa: E402
from tests.metrics.metrics_coco_oracle import (
    COCO_SIGMAS,
    STAT_KEYS,
    pycoco_stats,
    random_case,
    to_metric_inputs,
)


def _ours(preds, targets, sigmas=None) -> np.ndarray:
    m = KeypointAP(sigmas=sigmas)
    m.update(preds, targets)
    out = m.compute()
    assert set(out) == set(STAT_KEYS)
    return np.array([float(out[k]) for k in STAT_KEYS])


@pytest.mark.parametrize("chunk", range(4))
def test_random_cases_match_pycocotools(chunk: int) -> None:
    """240 randomized cases (60 per chunk); every 5th uses a non-COCO skeleton with its own sigmas."""
    failures = []
    for seed in range(chunk * 60, (chunk + 1) * 60):
        rng = np.random.default_rng(seed)
        k = 17 if seed % 5 else int(rng.integers(4, 25))
        sigmas = None if k == 17 else rng.uniform(0.02, 0.12, k)
        gt, dets = random_case(rng, k)
        ref = pycoco_stats(gt, dets, sigmas)
        got = _ours(*to_metric_inputs(gt, dets, k), sigmas=sigmas)
        if not np.allclose(got, ref, atol=1e-6, rtol=0):
            failures.append((seed, ref.round(4).tolist(), got.round(4).tolist()))
    assert not failures, failures


def test_random_cases_are_not_trivial() -> None:
    """The generator really produces intermediate AP/AR values, -1 entries and >20 detections/image."""
    stats, many = [], 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        gt, dets = random_case(rng)
        stats.append(pycoco_stats(gt, dets))
        counts = np.unique([d["image_id"] for d in dets], return_counts=True)[1]
        many += int((counts > 20).any())
    s = np.array(stats)
    assert ((s > 0.05) & (s < 0.95)).mean() > 0.5
    assert (s == -1).any() and many > 0


def test_instances_split_over_updates_and_functional_twin() -> None:
    """One dict per instance, spread over many updates (top-down style) == one dict per image."""
    rng = np.random.default_rng(1234)
    gt, dets = random_case(rng)
    ref = pycoco_stats(gt, dets)
    preds, targets = to_metric_inputs(gt, dets, 17)
    m = KeypointAP()
    for t in targets:
        for j in range(t["keypoints"].shape[0]):
            m.update([], [{key: (v[j : j + 1] if torch.is_tensor(v) else v) for key, v in t.items()}])
    for p in preds:
        for j in range(p["keypoints"].shape[0]):
            m.update([{key: (v[j : j + 1] if torch.is_tensor(v) else v) for key, v in p.items()}], [])
    out = m.compute()
    np.testing.assert_allclose([float(out[k]) for k in STAT_KEYS], ref, atol=1e-6, rtol=0)
    fun = keypoint_ap(preds, targets)
    np.testing.assert_allclose([float(fun[k]) for k in STAT_KEYS], ref, atol=1e-6, rtol=0)


def _load_coco(coco_root):
    return json.loads((coco_root / "annotations" / "person_keypoints_val2017.json").read_text())


@pytest.mark.parametrize("noise", [0.0, 0.03, 0.08, 0.2])
def test_real_coco_perturbed_gt(coco_root, noise: float) -> None:
    gt = _load_coco(coco_root)
    rng = np.random.default_rng(7)
    dets = []
    for a in gt["annotations"]:
        kp = np.array(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        x, y, w, h = a["bbox"]
        lab = kp[:, 2] > 0
        px = np.where(lab, kp[:, 0], x + rng.random(17) * w) + rng.normal(0, noise * math.sqrt(a["area"]), 17)
        py = np.where(lab, kp[:, 1], y + rng.random(17) * h) + rng.normal(0, noise * math.sqrt(a["area"]), 17)
        out = np.stack([px, py, rng.random(17)], 1)
        dets.append(
            {
                "image_id": a["image_id"],
                "category_id": 1,
                "keypoints": out.reshape(-1).tolist(),
                "score": float(rng.random()),
            }
        )
    ref = pycoco_stats(gt, dets)
    got = _ours(*to_metric_inputs(gt, dets, 17))
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    if noise == 0.0:  # perfect keypoints on every labelled person
        assert ref[0] == pytest.approx(1.0)


def test_real_coco_detection_boxes(coco_root) -> None:
    """Predictions on the 118 detector boxes (> 20 per image, real scores): keypoints from the best
    overlapping GT (perturbed) or random inside the box."""
    gt = _load_coco(coco_root)
    boxes = json.loads(
        (coco_root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json").read_text()
    )
    rng = np.random.default_rng(0)
    dets = []
    for b in boxes:
        x, y, w, h = b["bbox"]
        best, best_iou = None, 0.0
        for a in gt["annotations"]:
            if a["image_id"] != b["image_id"]:
                continue
            ax, ay, aw, ah = a["bbox"]
            iw = max(0.0, min(x + w, ax + aw) - max(x, ax))
            ih = max(0.0, min(y + h, ay + ah) - max(y, ay))
            iou = iw * ih / (w * h + aw * ah - iw * ih)
            if iou > best_iou:
                best, best_iou = a, iou
        px, py = x + rng.random(17) * w, y + rng.random(17) * h
        if best is not None and best_iou > 0.5:
            kp = np.array(best["keypoints"], dtype=np.float64).reshape(-1, 3)
            s = 0.05 * math.sqrt(best["area"])
            px = np.where(kp[:, 2] > 0, kp[:, 0] + rng.normal(0, s, 17), px)
            py = np.where(kp[:, 2] > 0, kp[:, 1] + rng.normal(0, s, 17), py)
        out = np.stack([px, py, rng.random(17)], 1)
        dets.append(
            {"image_id": b["image_id"], "category_id": 1, "keypoints": out.reshape(-1).tolist(), "score": b["score"]}
        )
    ref = pycoco_stats(gt, dets)
    got = _ours(*to_metric_inputs(gt, dets, 17))
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    assert 0.1 < ref[0] < 0.95


def _person(x: float, y: float, k: int = 17, area: float = 100.0**2):
    kp = torch.zeros(1, k, 3, dtype=torch.float64)
    kp[0, :, 0] = x + torch.arange(k, dtype=torch.float64)
    kp[0, :, 1] = y
    kp[0, :, 2] = 2
    return kp, torch.tensor([area]), torch.tensor([[x, y - 50, k, 100.0]])


def test_empty_image_predictions_are_false_positives() -> None:
    """Image 1: one person found perfectly (score .5); image 2 has no GT, one detection (score .9).
    Sorted: FP then TP -> precision 0.5 at every recall <= 1: AP = 0.5, AR = 1 (pycocotools agrees)."""
    kp, area, box = _person(100, 100)
    targets = [
        {"image_id": 1, "keypoints": kp, "area": area, "bbox": box, "iscrowd": torch.zeros(1)},
        {
            "image_id": 2,
            "keypoints": torch.zeros(0, 17, 3),
            "area": torch.zeros(0),
            "bbox": torch.zeros(0, 4),
            "iscrowd": torch.zeros(0),
        },
    ]
    preds = [
        {"image_id": 1, "keypoints": kp.clone(), "scores": torch.tensor([0.5])},
        {"image_id": 2, "keypoints": kp.clone(), "scores": torch.tensor([0.9])},
    ]
    m = KeypointAP()
    m.update(preds, targets)
    out = m.compute()
    assert float(out["AP"]) == pytest.approx(0.5) and float(out["AR"]) == pytest.approx(1.0)
    gt_json = {
        "images": [{"id": 1}, {"id": 2}],
        "categories": [{"id": 1}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "keypoints": kp.reshape(-1).tolist(),
                "num_keypoints": 17,
                "area": 1e4,
                "bbox": box[0].tolist(),
                "iscrowd": 0,
            }
        ],
    }
    dets = [
        {"image_id": i, "category_id": 1, "keypoints": kp.reshape(-1).tolist(), "score": s}
        for i, s in ((1, 0.5), (2, 0.9))
    ]
    np.testing.assert_allclose([float(out[k]) for k in STAT_KEYS], pycoco_stats(gt_json, dets), atol=1e-6)


def test_nonfinite_detection_is_a_visible_miss() -> None:
    kp, area, box = _person(100, 100)
    bad = kp.clone()
    bad[0, 3, 0] = float("nan")
    m = KeypointAP()
    m.update(
        [{"image_id": 1, "keypoints": torch.cat([bad, kp]), "scores": torch.tensor([0.9, 0.5])}],
        [{"image_id": 1, "keypoints": kp, "area": area, "bbox": box, "iscrowd": torch.zeros(1)}],
    )
    with pytest.warns(RuntimeWarning, match="non-finite"):
        out = m.compute()
    assert int(m.num_nonfinite) == 1
    assert float(out["AP"]) == pytest.approx(0.5) and float(out["AR"]) == pytest.approx(1.0)
    # a NaN score ranks last: a far-off detection with NaN score after the true positive costs nothing
    m = KeypointAP()
    m.update(
        [{"image_id": 1, "keypoints": torch.cat([kp + 1000, kp]), "scores": torch.tensor([float("nan"), 0.5])}],
        [{"image_id": 1, "keypoints": kp, "area": area, "bbox": box, "iscrowd": torch.zeros(1)}],
    )
    with pytest.warns(RuntimeWarning, match="non-finite"):
        assert float(m.compute()["AP"]) == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(RuntimeError, match="before update"):
        KeypointAP().compute()
    kp, area, box = _person(0, 0, k=5)
    with pytest.raises(ValueError, match="K=17"):
        KeypointAP().update([], [{"image_id": 1, "keypoints": kp, "area": area, "bbox": box}])
    with pytest.raises(ValueError, match="scores"):
        KeypointAP().update([{"image_id": 1, "keypoints": torch.zeros(2, 17, 3), "scores": torch.ones(3)}], [])
    with pytest.raises(TypeError, match="lists"):
        KeypointAP().update({"image_id": 1}, [])
    with pytest.raises(ValueError, match="sigmas"):
        KeypointAP(sigmas=[0.1, -1.0])


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_reset_clears_state() -> None:
    kp, area, box = _person(10, 10)
    m = KeypointAP()
    m.update(
        [{"image_id": 1, "keypoints": kp, "scores": torch.ones(1)}],
        [{"image_id": 1, "keypoints": kp, "area": area, "bbox": box}],
    )
    assert float(m.compute()["AP"]) == pytest.approx(1.0)
    m.reset()
    with pytest.raises(RuntimeError):
        m.compute()


def test_mean_oks_hand_computed() -> None:
    """Two instances, area 100: (a) kp 0 off by 2 px, other labelled kps exact, 3 labelled ->
    (exp(-4 / (2 * 100 * (2*0.026)^2)) + 2) / 3; (b) no labelled keypoint -> excluded."""
    k = 17
    target = torch.zeros(2, k, 2)
    vis = torch.zeros(2, k)
    vis[0, :3] = 1
    preds = target.clone()
    preds[0, 0, 0] = 2.0
    area = torch.tensor([100.0, 50.0])
    expected = (math.exp(-4 / (2 * 100 * (2 * COCO_SIGMAS[0]) ** 2)) + 2) / 3
    m = MeanOKS()
    m.update(preds, target, vis, area=area, bbox=None, norm=None, subsets=None)
    assert float(m.compute()) == pytest.approx(expected, abs=1e-12)
    per = keypoint_oks(preds, target, vis, area)
    assert float(per[0]) == pytest.approx(expected, abs=1e-12) and torch.isnan(per[1])
    # bbox fallback for the OKS scale: w*h = 100
    m2 = MeanOKS()
    m2.update(preds, target, vis, bbox=torch.tensor([[0, 0, 10.0, 10.0], [0, 0, 5, 5.0]]))
    assert float(m2.compute()) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="area"):
        MeanOKS().update(preds, target, vis)
    with pytest.raises(ValueError, match="sigmas"):
        MeanOKS().update(preds[:, :5], target[:, :5], vis[:, :5], area=area)
    nan_preds = preds.clone()
    nan_preds[0, 1] = float("nan")
    m3 = MeanOKS()
    m3.update(nan_preds, target, vis, area=area)
    with pytest.warns(RuntimeWarning):
        assert float(m3.compute()) == pytest.approx((math.exp(-4 / (2 * 100 * (2 * COCO_SIGMAS[0]) ** 2)) + 1) / 3)


def test_large_keypoint_ap_matches_many_images() -> None:
    """A bigger case (many images, one update per image) still equals pycocotools."""
    rng = np.random.default_rng(99)
    gt = {"images": [], "annotations": [], "categories": [{"id": 1}]}
    dets: list[dict] = []
    for i in range(25):
        g, d = random_case(np.random.default_rng(1000 + i))
        off = 1_000_000 * (i + 1)
        gt["images"] += [dict(im, id=im["id"] + off) for im in g["images"]]
        gt["annotations"] += [
            dict(a, id=len(gt["annotations"]) + j + 1, image_id=a["image_id"] + off)
            for j, a in enumerate(g["annotations"])
        ]
        dets += [dict(x, image_id=x["image_id"] + off) for x in d]
    rng.shuffle(dets)
    ref = pycoco_stats(copy.deepcopy(gt), dets)
    preds, targets = to_metric_inputs(gt, dets, 17)
    m = KeypointAP()
    for p in preds:
        m.update([p], [])
    m.update([], targets)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = m.compute()
    np.testing.assert_allclose([float(out[k]) for k in STAT_KEYS], ref, atol=1e-6, rtol=0)


def test_only_gt_or_only_false_positives() -> None:
    """No detections: AP = AR = 0 (pycocotools' accumulate with nd = 0). Detections but no GT at all:
    every number is -1 (no non-ignored GT in any area range)."""
    kp, area, box = _person(10, 10)
    m = KeypointAP()
    m.update([], [{"image_id": 3, "keypoints": kp, "area": area, "bbox": box}])
    out = m.compute()
    # area 100^2 is "large": the medium range has no GT -> -1
    assert {k: float(v) for k, v in out.items()} == {k: (-1.0 if k in ("APm", "ARm") else 0.0) for k in STAT_KEYS}
    m = KeypointAP()
    m.update([{"image_id": 3, "keypoints": kp, "scores": torch.ones(1)}], [])
    out = m.compute()
    assert all(float(out[k]) == -1.0 for k in STAT_KEYS)


def test_area_range_boundaries_match_pycocotools() -> None:
    """GT areas exactly 32^2 and 96^2 (inside both neighbouring ranges) and detections whose keypoint
    box is exactly 32x32 or 96x96, plus unmatched ones of those sizes."""
    k = 17
    rng = np.random.default_rng(5)
    anns, dets = [], []
    for img, side in ((1, 32.0), (2, 96.0), (3, 32.0), (4, 96.0)):
        xs = np.linspace(0, side, k)
        ys = np.concatenate([[0.0, side], np.full(k - 2, side / 2)])
        kp = np.stack([xs + 100, ys + 100, np.full(k, 2.0)], 1)
        anns.append(
            {
                "id": img,
                "image_id": img,
                "category_id": 1,
                "keypoints": kp.reshape(-1).tolist(),
                "num_keypoints": k,
                "area": side**2,
                "bbox": [100.0, 100.0, side, side],
                "iscrowd": 0,
            }
        )
        for j, shift in enumerate((0.0, 0.01 * side, 500.0)):  # exact, near, far (unmatched)
            d = np.stack([xs + 100 + shift, ys + 100, rng.random(k)], 1)
            dets.append(
                {
                    "image_id": img,
                    "category_id": 1,
                    "keypoints": d.reshape(-1).tolist(),
                    "score": float(0.9 - 0.1 * j - 0.01 * img),
                }
            )
    gt = {"images": [{"id": i} for i in range(1, 5)], "annotations": anns, "categories": [{"id": 1}]}
    ref = pycoco_stats(gt, dets)
    np.testing.assert_allclose(_ours(*to_metric_inputs(gt, dets, k)), ref, atol=1e-6, rtol=0)
    assert ref[3] > 0 and ref[4] > 0  # both medium and large are populated
