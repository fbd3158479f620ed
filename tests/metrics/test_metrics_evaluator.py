"""KeypointEvaluator: the top-down protocol (rescore -> OKS-NMS -> AP over every image of the split)
against pycocotools, partial epochs, dataset sigmas, missing area and skipped annotations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torchmetrics import Metric

from lit_heatmap.data import CocoFormat
from lit_heatmap.metrics import EPE, KeypointAP, KeypointEvaluator, MeanOKS
from lit_heatmap.metrics.functional.coco import pack_ground_truth, pack_targets
from tests.metrics.metrics_coco_oracle import (
    COCO_SIGMAS,
    STAT_KEYS,
    pycoco_stats,
    random_case,
)
from tests.metrics.test_metrics_topdown import ref_nms

K = 17


def rescored(det: dict, thr: float = 0.2) -> float:
    """MMPose's rescoring, written out: box score x mean of the keypoint scores above ``thr``."""
    s = np.asarray(det["keypoints"], dtype=np.float64).reshape(-1, 3)[:, 2]
    above = s[s > thr]
    return det["box_score"] * (float(above.mean()) if above.size else 0.0)


INPUT_W, INPUT_H = 6, 8  # the network input of the fake batches


def crop_scale(det: dict) -> float:
    """The float32 scale of a detection's crop: its affine is ``diag(s, s)``, its crop area ``s^2 * 48``."""
    return float(np.float32(det.get("crop_scale", 10.0)))


def batch_of(dets: list[dict]) -> tuple[torch.Tensor, torch.Tensor, dict]:
    kp = torch.tensor([d["keypoints"] for d in dets], dtype=torch.float64).reshape(-1, K, 3)
    n = len(dets)
    affine = torch.zeros(n, 2, 3)
    affine[:, 0, 0] = affine[:, 1, 1] = torch.tensor([crop_scale(d) for d in dets])
    batch = {
        "image_id": torch.tensor([d["image_id"] for d in dets]),
        "score": torch.tensor([d["box_score"] for d in dets], dtype=torch.float32),
        "orig_keypoints": torch.zeros(n, K, 2),
        "orig_visibility": torch.zeros(n, K),  # detected boxes: no paired ground truth
        "bbox": torch.zeros(n, 4),
        "affine": affine,
        "image": torch.zeros(n, 0, INPUT_H, INPUT_W),  # only its size is read
    }
    return kp[..., :2].float(), kp[..., 2].float(), batch


def case(seed: int) -> tuple[dict, list[dict]]:
    gt, dets = random_case(np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    for d in dets:
        d["box_score"] = float(rng.uniform(0.3, 1.0))
        kp = np.asarray(d["keypoints"], dtype=np.float64).reshape(-1, 3)
        kp[:, :2] = kp[:, :2].astype(np.float32)  # what the evaluator sees (float32 decode)
        kp[:, 2] = kp[:, 2].astype(np.float32)
        d["keypoints"] = kp.reshape(-1).tolist()
        extent = np.ptp(kp[:, 0]) * np.ptp(kp[:, 1])
        d["crop_scale"] = float(np.sqrt(extent * rng.uniform(1.0, 3.0) / (INPUT_W * INPUT_H)))  # a padded box
    return gt, dets


def oracle(gt: dict, dets: list[dict], nms: float | None, sigmas=COCO_SIGMAS, img_ids=None) -> np.ndarray:
    """Rescore, greedy OKS-NMS per image with the crop areas (plain NumPy reference), pycocotools over
    every GT image."""
    scores = np.array([rescored(d) for d in dets])
    kp = np.array([d["keypoints"] for d in dets], dtype=np.float64).reshape(-1, K, 3)
    ids = np.array([d["image_id"] for d in dets])
    areas = np.array([crop_scale(d) ** 2 * INPUT_W * INPUT_H for d in dets])
    keep = ref_nms(kp[..., :2], scores, ids, np.asarray(sigmas), nms, areas)
    cat = gt["categories"][0]["id"]
    res = [
        {
            "image_id": int(d["image_id"]),
            "category_id": cat,
            "score": float(s),
            "keypoints": np.concatenate([kp[i, :, :2], np.ones((K, 1))], 1).reshape(-1).tolist(),
        }
        for i, (d, s) in enumerate(zip(dets, scores))
        if keep[i]
    ]
    gt = dict(gt)
    if img_ids is not None:
        gt["images"] = [i for i in gt["images"] if i["id"] in img_ids]
        gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in img_ids]
    return pycoco_stats(gt, res, np.asarray(sigmas))


def evaluate(gt: dict, dets: list[dict], nms: float | None, seen_only=False, sigmas=None, chunk=7) -> np.ndarray:
    ev = KeypointEvaluator({"AP": KeypointAP()}, K, sigmas=sigmas, nms_threshold=nms)
    ev.set_ground_truth(gt)
    for i in range(0, len(dets), chunk):
        ev.update(*batch_of(dets[i : i + chunk]))
    out = ev.compute(seen_only=seen_only)
    return np.array([float(out[k]) for k in STAT_KEYS])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("nms", [None, 0.9, 0.5])
def test_protocol_equals_rescore_nms_pycocotools(seed: int, nms) -> None:
    gt, dets = case(seed)
    np.testing.assert_allclose(evaluate(gt, dets, nms), oracle(gt, dets, nms), atol=1e-9)


def test_nms_areas_are_the_crop_areas() -> None:
    """The results kept (``keep_results``) are the reference's with the crop areas of the batches'
    ``affine``, and for these cases not those with the keypoints' extent."""
    differ = 0
    for seed, thr in ((3, 0.5), (8, 0.5), (13, 0.9), (15, 0.9), (0, 0.9)):
        gt, dets = case(seed)
        ev = KeypointEvaluator({"AP": KeypointAP()}, K, nms_threshold=thr, keep_results=True)
        ev.set_ground_truth(gt)
        ev.update(*batch_of(dets))
        ev.compute()
        scores = np.array([rescored(d) for d in dets])
        kp = np.array([d["keypoints"] for d in dets], dtype=np.float64).reshape(-1, K, 3)[..., :2]
        ids = np.array([d["image_id"] for d in dets])
        areas = np.array([crop_scale(d) ** 2 * INPUT_W * INPUT_H for d in dets])
        keep = ref_nms(kp, scores, ids, np.asarray(COCO_SIGMAS), thr, areas)
        assert ev.results["image_id"].tolist() == ids[keep].tolist(), seed
        np.testing.assert_allclose(ev.results["score"].numpy(), scores[keep], rtol=1e-6)
        differ += not np.array_equal(keep, ref_nms(kp, scores, ids, np.asarray(COCO_SIGMAS), thr))
    assert differ == 4


def test_images_without_detections_count_as_misses() -> None:
    """Removing every detection of one image lowers recall: its people are misses, not ignored."""
    for seed in range(40):
        gt, dets = case(seed)
        imgs = sorted({d["image_id"] for d in dets} & {a["image_id"] for a in gt["annotations"] if not a["iscrowd"]})
        if len(imgs) >= 2:
            break
    kept = [d for d in dets if d["image_id"] != imgs[0]]
    ours = evaluate(gt, kept, 0.9)
    np.testing.assert_allclose(ours, oracle(gt, kept, 0.9), atol=1e-9)
    seen = {d["image_id"] for d in kept}
    partial = oracle(gt, kept, 0.9, img_ids=seen)
    assert ours[STAT_KEYS.index("AR")] < partial[STAT_KEYS.index("AR")]  # the old bias: ground truth dropped
    # a partial epoch (limit_val_batches < 1) scores only the images it saw
    np.testing.assert_allclose(evaluate(gt, kept, 0.9, seen_only=True), partial, atol=1e-9)


def test_dataset_sigmas_reach_ap_and_mean_oks_for_17_keypoints() -> None:
    gt, dets = case(3)
    sigmas = np.linspace(0.03, 0.12, K)
    np.testing.assert_allclose(
        evaluate(gt, dets, 0.9, sigmas=sigmas.tolist()), oracle(gt, dets, 0.9, sigmas), atol=1e-9
    )
    assert not np.allclose(oracle(gt, dets, 0.9, sigmas), oracle(gt, dets, 0.9))  # the sigmas matter here
    ev = KeypointEvaluator({"OKS": MeanOKS(), "own": MeanOKS(sigmas=[0.05] * K)}, K, sigmas=sigmas.tolist())
    ms = dict(ev.items())
    assert torch.allclose(ms["OKS"].sigmas.double(), torch.tensor(sigmas))
    assert torch.allclose(ms["own"].sigmas.double(), torch.full((K,), 0.05, dtype=torch.float64))
    with pytest.raises(ValueError, match="17 keypoints"):
        KeypointEvaluator({"own": MeanOKS(sigmas=[0.05] * 5)}, K)


def test_tensor_metrics_see_only_instances_with_ground_truth() -> None:
    ev = KeypointEvaluator({"EPE": EPE()}, 2)
    kp = torch.tensor([[[1.0, 1.0], [2.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
    batch = {
        "image_id": torch.tensor([1, 2]),
        "score": torch.ones(2),
        "orig_keypoints": torch.tensor([[[1.0, 4.0], [2.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]]),
        "orig_visibility": torch.tensor([[1.0, 1.0], [0.0, 0.0]]),
        "bbox": torch.zeros(2, 4),
    }
    ev.update(kp, torch.ones(2, 2), batch)
    assert float(ev.compute()["EPE"]) == pytest.approx(1.5)  # (3 + 0) / 2, the second crop left out


def test_ap_without_ground_truth_says_how_to_set_it() -> None:
    ev = KeypointEvaluator({"AP": KeypointAP()}, K)
    ev.update(*batch_of(case(0)[1][:2]))
    with pytest.raises(RuntimeError, match="set_ground_truth"):
        ev.compute()


# ------------------------------------------------------------- ground truth that agrees with training
def write_coco(tmp_path: Path, names: list[str], anns: list[dict], size=(64, 48)) -> Path:
    import cv2

    images = []
    for i in sorted({a["image_id"] for a in anns} | {99}):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((size[1], size[0], 3), np.uint8))
        images.append({"id": i, "file_name": f"{i}.png", "width": size[0], "height": size[1]})
    data = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 3, "name": "mouse", "keypoints": names, "skeleton": []}],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def _ann(i: int, image_id: int, rng: np.random.Generator, area: bool) -> dict:
    xy = rng.uniform(10, 40, (K, 2))
    kp = np.concatenate([xy, np.full((K, 1), 2.0)], 1)
    a = {
        "id": i,
        "image_id": image_id,
        "category_id": 3,
        "keypoints": kp.reshape(-1).round(2).tolist(),
        "num_keypoints": K,
        "bbox": [5.0, 6.0, 40.0, 30.0],
        "iscrowd": 0,
    }
    if area:
        a["area"] = 700.0
    return a


def test_missing_area_and_own_sigmas_give_pycocotools_ap(tmp_path: Path, caplog) -> None:
    """A COCO-format file without ``area``, 17 keypoints that are not COCO persons, sigmas of its own:
    the AP equals pycocotools on the same file with the area filled in (box area) and the sigmas set."""
    rng = np.random.default_rng(0)
    names = [f"point{i}" for i in range(K)]
    anns = [_ann(i + 1, 1 + i // 2, rng, area=False) for i in range(6)]
    path = write_coco(tmp_path, names, anns)
    sigmas = np.linspace(0.04, 0.1, K).tolist()
    ds = CocoFormat(path, sigmas=sigmas)
    with caplog.at_level("WARNING"):
        gt = ds.ground_truth()
    assert "no 'area'" in caplog.text and str(path) in caplog.text
    assert [a["area"] for a in gt["annotations"]] == [1200.0] * 6  # 40 x 30, as training's box area
    assert sorted(i["id"] for i in gt["images"]) == [1, 2, 3, 99]  # every image of the file
    dets = []
    for a in anns:
        kp = np.asarray(a["keypoints"]).reshape(K, 3)
        kp[:, :2] += rng.normal(0, 1.5, (K, 2))
        kp[:, 2] = rng.uniform(0.3, 1.0, K)
        dets.append(
            {"image_id": a["image_id"], "keypoints": kp.astype(np.float32).reshape(-1).tolist(), "box_score": 1.0}
        )
    filled = json.loads(path.read_text())
    for a in filled["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    ours = evaluate(gt, dets, 0.9, sigmas=ds.meta.sigmas)
    np.testing.assert_allclose(ours, oracle(filled, dets, 0.9, sigmas=np.array(sigmas)), atol=1e-9)
    assert 0.0 < ours[0] < 1.0


def test_skipped_annotation_leaves_the_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    anns = [_ann(i + 1, 1 + i // 2, rng, area=True) for i in range(4)]
    anns[2]["keypoints"][0] = float("nan")  # a bad annotation: skipped at setup
    path = write_coco(tmp_path, [f"p{i}" for i in range(K)], anns)
    ds = CocoFormat(path, on_bad_sample="skip")
    assert len(ds) == 3 and ds.num_skipped == 1
    gt = ds.ground_truth()
    assert sorted(a["id"] for a in gt["annotations"]) == [1, 2, 4]
    ev = KeypointEvaluator({"AP": KeypointAP()}, K)
    ev.set_ground_truth(gt)  # no error on the skipped annotation's NaN
    ev.update(
        *batch_of(
            [
                {"image_id": a["image_id"], "keypoints": a["keypoints"], "box_score": 1.0}
                for a in (anns[0], anns[1], anns[3])
            ]
        )
    )
    assert float(ev.compute()["AP"]) == pytest.approx(1.0)


# ------------------------------------------------------------- the contracts: image-level metrics, packing
class CountKept(Metric):
    """A new image-level metric: declared by ``scores_images``, scored by ``score_images`` only."""

    scores_images: ClassVar[bool] = True

    def update(self, *args, **kwargs) -> None:
        raise AssertionError("the evaluator never updates an image-level metric")

    def compute(self) -> None:
        raise AssertionError("the evaluator never computes an image-level metric")

    def score_images(self, results: dict, ground_truth: torch.Tensor, seen_only: bool = False) -> dict:
        seen = torch.isin(ground_truth[:, -1], results["image_id"].double()) if seen_only else slice(None)
        return {"kept": torch.tensor(len(results["image_id"])), "gt": torch.tensor(len(ground_truth[seen]))}


def test_a_new_image_level_metric_needs_no_evaluator_change() -> None:
    gt, dets = case(3)
    ev = KeypointEvaluator({"n": CountKept(), "AP": KeypointAP()}, K, nms_threshold=0.5, keep_results=True)
    assert ev.needs_ground_truth and KeypointEvaluator({"n": CountKept()}, K).needs_ground_truth
    assert not KeypointEvaluator({"EPE": EPE()}, K).needs_ground_truth
    ev.set_ground_truth(gt)
    ev.update(*batch_of(dets))
    out = ev.compute()
    assert int(out["kept"]) == len(ev.results["image_id"]) < len(dets)
    assert int(out["gt"]) == len(gt["annotations"])
    np.testing.assert_allclose([float(out[k]) for k in STAT_KEYS], oracle(gt, dets, 0.5), atol=1e-9)
    seen = {d["image_id"] for d in dets}
    assert int(ev.compute(seen_only=True)["gt"]) == sum(a["image_id"] in seen for a in gt["annotations"])


def test_ground_truth_packing_names_the_annotation() -> None:
    gt, _ = case(0)
    bad = dict(gt, annotations=[dict(a) for a in gt["annotations"]])
    bad["annotations"][0]["keypoints"] = bad["annotations"][0]["keypoints"][:-3]  # 16 keypoints
    ann = bad["annotations"][0]
    ev = KeypointEvaluator({"AP": KeypointAP()}, K)
    with pytest.raises(ValueError, match=rf"annotation id {ann['id']} \(image {ann['image_id']}\).*\(M, K=17, 3\)"):
        ev.set_ground_truth(bad)
    bad["annotations"][0] = dict(gt["annotations"][0], bbox=[0.0, float("nan"), 3.0, 4.0])
    with pytest.raises(ValueError, match=rf"annotation id {ann['id']} .*non-finite"):
        ev.set_ground_truth(bad)
    # a missing area is the box's, a missing or null iscrowd 0: the rows of KeypointAP's packer
    plain = {"image_id": 5, "keypoints": [1.0, 2.0, 2.0] * K, "bbox": [0.0, 0.0, 3.0, 4.0], "iscrowd": None}
    rows = pack_ground_truth({"annotations": [plain]}, K)
    same = pack_targets([{"image_id": 5, "keypoints": torch.tensor([[1.0, 2.0, 2.0]] * K), "bbox": [0, 0, 3, 4]}], K)
    assert torch.equal(rows, same) and rows[0, 3 * K + 4 :].tolist() == [12.0, 0.0, 5.0]
    # an annotation without keypoint values is broken ground truth, never skipped; an image without instances
    # (empty keypoints) in KeypointAP's per-image targets adds no row
    bad["annotations"][0] = dict(gt["annotations"][0], keypoints=[])
    with pytest.raises(ValueError, match=rf"annotation id {ann['id']} .*\(M, K=17, 3\) with \(x, y, v\), got \(0,\)"):
        ev.set_ground_truth(bad)
    assert pack_targets([{"image_id": 6, "keypoints": [], "bbox": []}], K).shape == (0, 3 * K + 7)
