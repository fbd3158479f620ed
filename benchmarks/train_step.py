"""Training throughput of HeatmapModule under a Lightning Trainer vs a bare PyTorch loop.

Both loops train the same model (same initial weights, same encoding/loss/optimizer) on the same
pre-built batches held in memory, in the same process; runs alternate (bare, Lightning, bare, ...)
and the best of ``--repeats`` is reported (the median too), so machine noise hits both alike. Timing starts after
``--warmup`` steps and covers whole steps (forward, target encoding, loss, backward, optimizer step,
plus, for Lightning, its hooks and ``self.log``). Goal: Lightning overhead <= 5 %.

    python benchmarks/train_step.py                       # resnet18 + deconv, 128x128, batch 16
    python benchmarks/train_step.py --backbone resnet50 --size 192 256 --batch-size 32 --json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
import warnings

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import lightning as L  # noqa: E402

from lit_heatmap.codecs import DarkDecoder, Heatmap2D  # noqa: E402
from lit_heatmap.data import DatasetMeta  # noqa: E402
from lit_heatmap.models import Backbone, DeconvHeatmapHead, KeypointMSELoss  # noqa: E402
from lit_heatmap.models.parts import node  # noqa: E402
from lit_heatmap.module import HeatmapModule  # noqa: E402


def make_batches(n: int, batch_size: int, size: tuple[int, int], k: int, seed: int = 0) -> list[dict]:
    """``n`` batch-contract training batches (random images, keypoints inside the input)."""
    g = torch.Generator().manual_seed(seed)
    w, h = size
    out = []
    for _ in range(n):
        kps = torch.rand(batch_size, k, 2, generator=g) * torch.tensor([w - 1.0, h - 1.0])
        out.append(
            {
                "image": torch.randint(0, 256, (batch_size, 3, h, w), generator=g, dtype=torch.uint8),
                "keypoints": kps,
                "visibility": torch.ones(batch_size, k),
            }
        )
    return out


def build(args: argparse.Namespace) -> HeatmapModule:
    torch.manual_seed(0)
    k = args.keypoints
    meta = DatasetMeta("random", k, [f"k{i}" for i in range(k)], [], None, [0.05] * k, tuple(args.size))
    return HeatmapModule(
        backbone=node(Backbone, name=args.backbone),
        head=node(DeconvHeatmapHead),
        encoding=node(Heatmap2D, input_size=None, sigma=2.0),
        decoder=node(DarkDecoder),
        loss=node(KeypointMSELoss),
        meta=meta,
        optimizer={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3},
    )


def bare_loop(model: HeatmapModule, batches: list[dict], warmup: int) -> float:
    """Plain PyTorch: forward, encode, loss, backward, step. Returns seconds for the timed steps."""
    opt = model.configure_optimizers()
    model.train()
    enc, loss_fn = model.encoding, model.loss
    start = 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            start = time.perf_counter()
        out = model(batch["image"])  # uint8 in: the model normalises
        with torch.no_grad():
            target, weight = enc.encode(batch["keypoints"], batch["visibility"])
        loss = loss_fn(out, target, weight, keypoints=batch["keypoints"], encoding=enc)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


class _Timer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        self.end = time.perf_counter()


def lightning_loop(model: HeatmapModule, batches: list[dict], warmup: int) -> float:
    """``Trainer.fit`` over the same batches (pre-batched: ``batch_size=None`` loader, no workers)."""
    timer = _Timer(warmup)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[timer],
        log_every_n_steps=50,
    )
    trainer.fit(model, train_dataloaders=loader)
    return timer.end - timer.start


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--size", type=int, nargs=2, default=[128, 128], metavar=("W", "H"))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--keypoints", type=int, default=17)
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    batches = make_batches(args.warmup + args.steps, args.batch_size, tuple(args.size), args.keypoints)
    base = build(args)
    init = copy.deepcopy(base.state_dict())
    times: dict[str, list[float]] = {"bare": [], "lightning": []}
    for _ in range(args.repeats):
        for mode, fn in (("bare", bare_loop), ("lightning", lightning_loop)):
            model = build(args)
            model.load_state_dict(init)
            times[mode].append(fn(model, batches, args.warmup))
    images = args.steps * args.batch_size
    # best of the repeats (as timeit): noise from other processes only ever adds time; the median is shown too
    res = {
        m: {
            "images_per_s": images / min(t),
            "ms_per_step": 1000 * min(t) / args.steps,
            "median_images_per_s": images / statistics.median(t),
            "runs_s": t,
        }
        for m, t in times.items()
    }
    overhead = 100.0 * (res["bare"]["images_per_s"] / res["lightning"]["images_per_s"] - 1.0)
    result = {
        "config": {k: v for k, v in vars(args).items() if k != "json"} | {"torch_threads": torch.get_num_threads()},
        "bare": res["bare"],
        "lightning": res["lightning"],
        "overhead_percent": overhead,
        "goal_percent": 5.0,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(
        f"HeatmapModule training throughput: {args.backbone} + deconv head, input {args.size[0]}x{args.size[1]}, "
        f"batch {args.batch_size}, K={args.keypoints}, {args.steps} timed steps, "
        f"best of {args.repeats} alternating runs, "
        f"{torch.get_num_threads()} threads"
    )
    print("| loop | images/s (best) | ms/step (best) | images/s (median) |\n|---|---:|---:|---:|")
    for m in ("bare", "lightning"):
        r = res[m]
        print(f"| {m} | {r['images_per_s']:.1f} | {r['ms_per_step']:.1f} | {r['median_images_per_s']:.1f} |")
    print(f"Lightning overhead: {overhead:+.1f}% (goal <= 5%)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
