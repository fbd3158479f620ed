"""Data benchmark: training-pipeline throughput against the decode + one-warp limit, same run.

    python benchmarks/data.py              # table
    python benchmarks/data.py --json       # machine-readable
    python benchmarks/data.py --n 2048 --workers 2 --images 64

What is timed (issue 5's Acceptance section):
- ``pipeline``: ``CocoFormat`` with the training recipe of ``conf/dataset/coco_format.yaml``
  (plus coarse dropout, p=0.3) through ``KeypointDataModule``'s DataLoader
  (``--workers`` workers, ``--batch-size``, the collate): decode with EXIF handling, random
  scale/rotation/shift/flip folded into one ``cv2.warpAffine``, half-body off (not a COCO file's
  names), colour jitter, blur, coarse dropout, keypoint maths, collate of uint8 images
  (normalisation runs on the device, in the model).
- ``limit``: the same images through the same DataLoader settings, each sample only
  ``cv2.imread`` + one ``cv2.warpAffine`` to the same input size + ``torch.from_numpy``.
- ``synthetic``: the default Synthetic training set with ``conf/dataset/synthetic.yaml``'s recipe
  (rendering included), same loader settings.

- ``model step``: the training step of a ``--backbone`` + deconv HeatmapModule at the same input size and
  batch size on ``--device`` (``benchmarks/train_step.py``'s plain loop, ``--precision``): the images/s the
  loader must deliver. ``loader / step`` below 1 means the GPU (or CPU) waits for data.

Images: the real COCO sample (``$LIT_HEATMAP_SAMPLES/coco/val2017``, see README "Tests") when present, plus ``--images``
generated JPEGs of COCO size (640 x 480, quality 90, photo-like smooth texture and edges), written
to a temporary folder. One instance per image, boxes 30-70 % of the image. Throughput is
samples / s after one warm-up batch, best of ``--repeats`` passes; ratio = pipeline / limit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from lit_heatmap.data import CocoFormat, KeypointDataModule, KeypointTransform, Synthetic, collate  # noqa: E402
from lit_heatmap.data.datamodule import default_num_workers  # noqa: E402
from lit_heatmap.data.geometry import bbox_to_center_size, crop_matrix  # noqa: E402
from lit_heatmap.facts import COCO_KEYPOINT_NAMES, COCO_SKELETON  # noqa: E402

SHARED_COCO = Path(os.environ.get("LIT_HEATMAP_SAMPLES", REPO.parent / "shared" / "data")) / "coco" / "val2017"
INPUT = (192, 256)


def make_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` photo-like 640 x 480 JPEGs (quality 90): smooth colour fields, edges, fine noise."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        base = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC)
        for _ in range(20):
            p1, p2 = rng.integers(0, [640, 480], 2), rng.integers(0, [640, 480], 2)
            cv2.rectangle(
                base,
                tuple(int(v) for v in p1),
                tuple(int(v) for v in p2),
                tuple(int(c) for c in rng.integers(0, 255, 3)),
                int(rng.integers(-1, 4)),
            )
        img = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"{i:06d}.jpg"
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def write_annotations(folder: Path, images: list[Path], seed: int = 0) -> Path:
    """A COCO keypoint file with one labelled person per image, file names relative to ``folder``."""
    rng = np.random.default_rng(seed)
    imgs, anns = [], []
    for i, path in enumerate(images, start=1):
        h, w = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8).shape[:2]
        w, h = w * 8, h * 8
        bw, bh = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        kps = np.stack([rng.uniform(x0, x0 + bw, 17), rng.uniform(y0, y0 + bh, 17), np.full(17, 2)], 1)
        imgs.append({"id": i, "file_name": os.path.relpath(path, folder), "width": w, "height": h})
        anns.append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "iscrowd": 0,
                "num_keypoints": 17,
                "keypoints": kps.ravel().tolist(),
                "bbox": [x0, y0, bw, bh],
                "area": bw * bh,
            }
        )
    cat = {
        "id": 1,
        "name": "person",
        "keypoints": COCO_KEYPOINT_NAMES,
        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON],
    }
    ann = folder / "bench.json"
    ann.write_text(json.dumps({"images": imgs, "annotations": anns, "categories": [cat]}))
    return ann


class ReadWarp(Dataset):
    """The limit: ``cv2.imread`` + one ``cv2.warpAffine`` of the same crop, nothing else."""

    def __init__(self, ds: CocoFormat) -> None:
        self.items = [(str(r.image_path), r.bbox) for r in ds.records]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        path, bbox = self.items[i]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        c, s = bbox_to_center_size(bbox, INPUT)
        out = cv2.warpAffine(img, crop_matrix(c, s, INPUT), INPUT, flags=cv2.INTER_LINEAR)
        return {"image": torch.from_numpy(out)}


class Repeat(Dataset):
    """``base`` repeated to ``n`` samples (so small image sets still give long, steady runs)."""

    def __init__(self, base: Dataset, n: int) -> None:
        self.base, self.n = base, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.base[i % len(self.base)]  # type: ignore[arg-type]


def throughput(ds: Dataset, n: int, workers: int, batch_size: int, repeats: int) -> float:
    """Best samples/s over ``repeats`` passes of ``n`` samples (first batch of a pass not timed)."""
    best = 0.0
    data = Repeat(ds, n + batch_size)
    for _ in range(repeats):
        loader = DataLoader(
            data,
            batch_size=batch_size,
            shuffle=True,
            num_workers=workers,
            collate_fn=collate,
            drop_last=True,
            persistent_workers=False,
        )
        it = iter(loader)
        next(it)
        t0, count = time.perf_counter(), 0
        for batch in it:
            count += batch["image"].shape[0]
        best = max(best, count / (time.perf_counter() - t0))
    return best


def recipe_transform(dataset: str, dropout_prob: float | None = None, **values: object) -> KeypointTransform:
    """The training ``transform`` of ``conf/dataset/<dataset>.yaml``, with ``values`` for the dataset's keys."""
    cfg = OmegaConf.create({"dataset": OmegaConf.load(REPO / "conf" / "dataset" / f"{dataset}.yaml")})
    cfg.dataset.update(values)
    if dropout_prob is not None:
        cfg.dataset.transform.dropout_prob = dropout_prob
    return instantiate(cfg.dataset.transform)


def model_step_rate(args: argparse.Namespace) -> float:
    """Training images/s of the model on ``args.device`` (``train_step.py``'s plain best-practice loop)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import train_step  # noqa: PLC0415 - a sibling script

    ns = argparse.Namespace(
        backbone=args.backbone, size=list(INPUT), keypoints=17, device=args.device, precision=args.precision,
        compile=False,
    )  # fmt: skip
    torch.set_num_threads(default_num_workers(cap=1024))  # the step uses every CPU (the loader rows used 1 each)
    warmup = 3
    batches = train_step.make_batches(warmup + args.steps, args.batch_size, INPUT, 17, pin=args.device == "cuda")
    seconds = train_step.bare_loop(train_step.build(ns), batches, warmup, ns)
    return args.steps * args.batch_size / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1024, help="samples per timed pass")
    ap.add_argument("--workers", type=int, default=None, help="default: the product's (CPUs available, <= 16)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--images", type=int, default=48, help="generated COCO-size JPEGs")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-real", action="store_true", help="skip the real COCO sample images")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--backbone", default="resnet50", help="model of the step-rate row ('' to skip it)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--precision", default="32", help="32 | bf16-mixed | 16-mixed")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps of the step-rate row")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.workers is None:
        args.workers = default_num_workers()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = make_images(folder, args.images)
        real = [] if args.no_real or not SHARED_COCO.is_dir() else sorted(SHARED_COCO.glob("*.jpg"))
        ann = write_annotations(folder, images + real)
        recipe = recipe_transform("coco_format", input_size=list(INPUT), padding=1.25, dropout_prob=0.3)
        ds = CocoFormat(ann, img_dir=folder, transform=recipe)
        dm = KeypointDataModule(ds, None, batch_size=args.batch_size, num_workers=args.workers)
        assert dm.meta.num_keypoints == 17
        rows = []
        for name, data in (("pipeline", ds), ("limit", ReadWarp(ds))):
            rows.append((name, throughput(data, args.n, args.workers, args.batch_size, args.repeats)))
        synth = Synthetic(4000, transform=recipe_transform("synthetic"))
        rows.append(("synthetic", throughput(synth, args.n, args.workers, args.batch_size, args.repeats)))
        single = {
            "pipeline": throughput(ds, min(args.n, 256), 0, args.batch_size, 1),
            "limit": throughput(ReadWarp(ds), min(args.n, 256), 0, args.batch_size, 1),
        }

    step = model_step_rate(args) if args.backbone else None
    result = {
        "settings": {
            "input_size": INPUT,
            "workers": args.workers,
            "batch_size": args.batch_size,
            "n": args.n,
            "generated_images": args.images,
            "real_images": len(real),
            "repeats": args.repeats,
        },
        "samples_per_s": {name: round(v, 1) for name, v in rows},
        "samples_per_s_single_process": {k: round(v, 1) for k, v in single.items()},
        "ratio_pipeline_over_limit": round(rows[0][1] / rows[1][1], 3),
        "goal": 0.7,
        "model_step_images_per_s": None if step is None else round(step, 1),
        "ratio_loader_over_step": None if step is None else round(rows[0][1] / step, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"data pipeline throughput, input {INPUT[0]}x{INPUT[1]}, {args.workers} workers, batch {args.batch_size}, "
        f"{args.images} generated 640x480 JPEGs + {len(real)} real COCO images"
    )
    print(f"{'loader':<12}{'samples/s':>12}{'1 process':>12}")
    for name, v in rows:
        one = single.get(name)
        print(f"{name:<12}{v:>12.1f}{(f'{one:.1f}' if one else '-'):>12}")
    print(f"ratio pipeline / limit: {result['ratio_pipeline_over_limit']:.2f}  (goal >= 0.7)")
    if step is not None:
        print(
            f"model step ({args.backbone} + deconv, {args.device}, {args.precision}): {step:.1f} images/s; "
            f"loader / step: {result['ratio_loader_over_step']:.2f} (>= 1: the loader keeps up)"
        )


if __name__ == "__main__":
    main()
