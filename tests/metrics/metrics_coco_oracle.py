"""pycocotools oracle and a generator of randomized COCO keypoint cases (test helper, not a test)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

COCO_SIGMAS = (
    np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
    / 10.0
)
STAT_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def pycoco_stats(gt_json: dict, dets: list[dict], sigmas: np.ndarray | None = None) -> np.ndarray:
    """The 10 numbers of ``COCOeval(iouType="keypoints")`` (stdout silenced)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_json
        gt.createIndex()
        dt = gt.loadRes([dict(d) for d in dets])
        ev = COCOeval(gt, dt, "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.asarray(ev.stats, dtype=np.float64)


def to_metric_inputs(gt_json: dict, dets: list[dict], k: int) -> tuple[list[dict], list[dict]]:
    """COCO GT json + result list -> (preds, targets) lists of per-image dicts (one dict per image,
    instances in file order)."""
    targets, preds = [], []
    by_img: dict[int, list[dict]] = {}
    for a in gt_json["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    for img, anns in by_img.items():
        targets.append(
            {
                "image_id": img,
                "keypoints": torch.tensor([a["keypoints"] for a in anns], dtype=torch.float64).reshape(-1, k, 3),
                "area": torch.tensor([a["area"] for a in anns], dtype=torch.float64),
                "bbox": torch.tensor([a["bbox"] for a in anns], dtype=torch.float64).reshape(-1, 4),
                "iscrowd": torch.tensor([a.get("iscrowd", 0) for a in anns]),
            }
        )
    det_by_img: dict[int, list[dict]] = {}
    for d in dets:
        det_by_img.setdefault(d["image_id"], []).append(d)
    for img, ds in det_by_img.items():
        preds.append(
            {
                "image_id": img,
                "keypoints": torch.tensor([d["keypoints"] for d in ds], dtype=torch.float64).reshape(-1, k, 3),
                "scores": torch.tensor([d["score"] for d in ds], dtype=torch.float64),
            }
        )
    return preds, targets


def random_case(rng: np.random.Generator, k: int = 17) -> tuple[dict, list[dict]]:
    """A random image set with GT and detections exercising every COCOeval rule.

    Covers: perturbed GT at several noise levels, missed persons, false positives, duplicates (some
    with tied scores), crowd regions, images without GT, instances with 0..few labelled keypoints,
    small/medium/large areas, more than 20 detections per image, shuffled image ids.
    """
    n_img = int(rng.integers(1, 9))
    img_ids = [int(i) for i in rng.choice(100000, size=n_img, replace=False) + 1]
    images = [{"id": i, "width": 640, "height": 480} for i in img_ids]
    anns, dets = [], []
    tie_scores = rng.random() < 0.3
    for img in img_ids:
        n_gt = int(rng.choice([0, 0, 1, 2, 3, 5, 8]))
        for _ in range(n_gt):
            scale = float(np.exp(rng.uniform(np.log(8), np.log(300))))  # small .. large
            w, h = scale * rng.uniform(0.4, 1.0), scale * rng.uniform(0.8, 1.6)
            x0, y0 = rng.uniform(0, 400), rng.uniform(0, 300)
            crowd = rng.random() < 0.06
            p_lab = rng.choice([0.0, 0.1, 0.3, 0.8, 1.0])
            lab = rng.random(k) < p_lab
            if crowd and rng.random() < 0.7:
                lab[:] = False
            xs, ys = x0 + rng.random(k) * w, y0 + rng.random(k) * h
            v = np.where(lab, rng.choice([1, 2], size=k), 0)
            kp = np.stack([np.where(lab, np.round(xs, 2), 0), np.where(lab, np.round(ys, 2), 0), v], 1)
            area = float(w * h * rng.uniform(0.3, 0.9))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img,
                    "category_id": 1,
                    "keypoints": kp.reshape(-1).tolist(),
                    "num_keypoints": int(lab.sum()),
                    "area": area,
                    "bbox": [float(x0), float(y0), float(w), float(h)],
                    "iscrowd": int(crowd),
                }
            )
            if crowd:
                continue
            # detections of this person: missed, one, or duplicates
            n_det = int(rng.choice([0, 1, 1, 1, 2, 3]))
            for _ in range(n_det):
                noise = rng.choice([0.0, 0.02, 0.05, 0.1, 0.3]) * np.sqrt(area)
                dx = np.where(lab, xs, x0 + rng.random(k) * w) + rng.normal(0, 1, k) * noise
                dy = np.where(lab, ys, y0 + rng.random(k) * h) + rng.normal(0, 1, k) * noise
                dets.append(_det(img, dx, dy, rng, tie_scores))
        n_fp = int(rng.choice([0, 0, 1, 3, 25]))  # 25: more than maxDets
        for _ in range(n_fp):
            s = float(np.exp(rng.uniform(np.log(10), np.log(300))))
            cx, cy = rng.uniform(0, 600), rng.uniform(0, 450)
            dets.append(_det(img, cx + rng.normal(0, s / 3, k), cy + rng.normal(0, s / 3, k), rng, tie_scores))
    if not dets:  # pycocotools cannot load an empty result list
        img = img_ids[0]
        dets.append(_det(img, rng.uniform(0, 600, k), rng.uniform(0, 450, k), rng, tie_scores))
    rng.shuffle(dets)
    gt_json = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    return gt_json, dets


def _det(img: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, ties: bool) -> dict:
    score = float(np.round(rng.random(), 1)) if ties else float(rng.random())
    kp = np.stack([x, y, rng.random(x.shape[0])], 1)
    return {"image_id": img, "category_id": 1, "keypoints": kp.reshape(-1).tolist(), "score": score}
