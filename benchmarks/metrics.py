"""Benchmark: KeypointAP (torch) vs pycocotools COCOeval(iouType="keypoints").

Synthetic but realistic data: every image has 1-8 people (COCO-like size distribution, ~70 % of the
keypoints labelled, a few crowd regions and unlabelled persons) and exactly ``--dets`` detections:
perturbed copies of the people (some duplicates) plus false positives, with detector-like scores.
Both evaluators get the same inputs; the 10 numbers are checked to agree within 1e-6.

    python benchmarks/metrics.py                 # 5,000 images x 20 detections
    python benchmarks/metrics.py --images 500    # quick run
    python benchmarks/metrics.py --json          # machine-readable result
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time

import numpy as np
import torch

from lit_heatmap.metrics import KeypointAP

SIGMAS = (
    np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
    / 10.0
)
KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def make_data(n_images: int, n_dets: int, seed: int = 0) -> tuple[dict, list[dict]]:
    """COCO GT json and a result list (keypoints x, y, score; instance score)."""
    rng = np.random.default_rng(seed)
    k = 17
    images, anns, dets = [], [], []
    for img in range(1, n_images + 1):
        images.append({"id": img, "width": 640, "height": 480})
        people = []
        for _ in range(int(rng.integers(1, 9))):
            scale = float(np.exp(rng.normal(np.log(90), 0.8)))
            w, h = scale * rng.uniform(0.4, 0.8), scale
            x0, y0 = rng.uniform(0, 600), rng.uniform(0, 440)
            crowd = rng.random() < 0.02
            lab = (rng.random(k) < 0.7) & (rng.random() > 0.08) & (not crowd)
            xs, ys = x0 + rng.random(k) * w, y0 + rng.random(k) * h
            kp = np.stack([np.where(lab, xs, 0), np.where(lab, ys, 0), np.where(lab, 2, 0)], 1)
            area = float(w * h * 0.6)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": img,
                    "category_id": 1,
                    "iscrowd": int(crowd),
                    "keypoints": kp.reshape(-1).tolist(),
                    "num_keypoints": int(lab.sum()),
                    "area": area,
                    "bbox": [x0, y0, w, h],
                }
            )
            people.append((xs, ys, area, x0, y0, w, h))
        for j in range(n_dets):
            if j < 1.5 * len(people):
                xs, ys, area, x0, y0, w, h = people[j % len(people)]
                noise = rng.uniform(0.01, 0.15) * np.sqrt(area)
                px, py = xs + rng.normal(0, noise, k), ys + rng.normal(0, noise, k)
                score = float(rng.uniform(0.3, 1.0))
            else:
                s = float(np.exp(rng.normal(np.log(60), 0.7)))
                cx, cy = rng.uniform(0, 640), rng.uniform(0, 480)
                px, py = cx + rng.normal(0, s / 3, k), cy + rng.normal(0, s / 3, k)
                score = float(rng.uniform(0.0, 0.6))
            kps = np.stack([px, py, rng.random(k)], 1)
            dets.append({"image_id": img, "category_id": 1, "keypoints": kps.reshape(-1).tolist(), "score": score})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, dets


def to_dicts(gt: dict, dets: list[dict]) -> tuple[list[dict], list[dict]]:
    """Per-image dicts as the LightningModule would hand them to ``KeypointAP.update``."""
    by_gt: dict[int, list[dict]] = {}
    for a in gt["annotations"]:
        by_gt.setdefault(a["image_id"], []).append(a)
    by_dt: dict[int, list[dict]] = {}
    for d in dets:
        by_dt.setdefault(d["image_id"], []).append(d)
    f64 = torch.float64
    targets = [
        {
            "image_id": i,
            "keypoints": torch.tensor([a["keypoints"] for a in v], dtype=f64).reshape(-1, 17, 3),
            "area": torch.tensor([a["area"] for a in v], dtype=f64),
            "bbox": torch.tensor([a["bbox"] for a in v], dtype=f64),
            "iscrowd": torch.tensor([a["iscrowd"] for a in v]),
        }
        for i, v in by_gt.items()
    ]
    preds = [
        {
            "image_id": i,
            "keypoints": torch.tensor([d["keypoints"] for d in v], dtype=f64).reshape(-1, 17, 3),
            "scores": torch.tensor([d["score"] for d in v], dtype=f64),
        }
        for i, v in by_dt.items()
    ]
    return preds, targets


def run_pycocotools(gt: dict, dets: list[dict]) -> tuple[np.ndarray, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        t0 = time.perf_counter()
        res = coco.loadRes([dict(d) for d in dets])
        ev = COCOeval(coco, res, "keypoints")
        ev.params.kpt_oks_sigmas = SIGMAS
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        dt = time.perf_counter() - t0
    return np.asarray(ev.stats), dt


def run_ours(preds: list[dict], targets: list[dict], batch: int = 32) -> tuple[np.ndarray, float, float]:
    metric = KeypointAP()
    t0 = time.perf_counter()
    for s in range(0, max(len(preds), len(targets)), batch):
        metric.update(preds[s : s + batch], targets[s : s + batch])
    t1 = time.perf_counter()
    out = metric.compute()
    t2 = time.perf_counter()
    return np.array([float(out[k]) for k in KEYS]), t2 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--dets", type=int, default=20, help="detections per image")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (pycocotools is single-threaded)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gt, dets = make_data(args.images, args.dets)
    preds, targets = to_dicts(gt, dets)
    ref, t_coco = run_pycocotools(gt, dets)
    ours, t_ours, t_compute = run_ours(preds, targets)
    max_diff = float(np.abs(ref - ours).max())
    result = {
        "images": args.images,
        "detections": len(dets),
        "gt_instances": len(gt["annotations"]),
        "torch_threads": args.threads,
        "pycocotools_s": t_coco,
        "keypoint_ap_s": t_ours,
        "keypoint_ap_compute_s": t_compute,
        "speedup": t_coco / t_ours,
        "max_abs_diff": max_diff,
        "AP": float(ours[0]),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{args.images} images, {len(dets)} detections, {len(gt['annotations'])} GT instances, "
        f"torch threads={args.threads}"
    )
    print(f"{'evaluator':<34}{'time [s]':>10}")
    print(f"{'pycocotools (loadRes+eval+acc)':<34}{t_coco:>10.3f}")
    print(f"{'KeypointAP (update+compute)':<34}{t_ours:>10.3f}")
    print(f"{'  of which compute()':<34}{t_compute:>10.3f}")
    print(
        f"speed-up (pycocotools / KeypointAP): {t_coco / t_ours:.1f}x   AP={ours[0]:.4f}   "
        f"max |diff| over the 10 numbers: {max_diff:.2e}"
    )
    if max_diff > 1e-6:
        raise SystemExit("KeypointAP disagrees with pycocotools")


if __name__ == "__main__":
    main()
