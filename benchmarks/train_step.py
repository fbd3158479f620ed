"""Training throughput of HeatmapModule under a Lightning Trainer vs a bare PyTorch loop.

Both loops train the same model (same initial weights, same encoding/loss/optimizer) on the same
pre-built batches held in memory, in the same process; runs alternate (bare, Lightning, bare, ...)
and the best of ``--repeats`` is reported (the median too), so machine noise hits both alike. Timing starts after
``--warmup`` steps and covers whole steps (forward, target encoding, loss, backward, optimizer step,
plus, for Lightning, its hooks and ``self.log``). Goal: Lightning >= 0.9x the plain loop (overhead <= 5 % on CPU).

The plain loop is the best-practice one: autocast in ``--precision``'s dtype, ``channels_last`` on CUDA,
AdamW ``fused`` on CUDA (``foreach`` on the CPU), ``torch.compile`` of the forward with ``--compile``.
The Lightning run is what ``trainer=gpu`` does: ``Trainer(precision=...)`` and the module's own defaults
(channels_last on CUDA, the fast optimizer; ``model.compile=true`` with ``--compile``). Batches are uint8
in (pinned, on CUDA) host memory, copied to the device every step, by both loops.

    python benchmarks/train_step.py                       # resnet18 + deconv, 128x128, batch 16, CPU
    python benchmarks/train_step.py --backbone resnet50 --size 192 256 --batch-size 32 --json
    python benchmarks/train_step.py --device cuda --precision bf16-mixed --backbone resnet50 \
        --size 192 256 --batch-size 64 [--compile]
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
from lit_heatmap.module import HeatmapModule  # noqa: E402
from lit_heatmap.nodes import node  # noqa: E402

AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def make_batches(
    n: int, batch_size: int, size: tuple[int, int], k: int, seed: int = 0, pin: bool = False
) -> list[dict]:
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
    if pin:
        out = [{key: v.pin_memory() for key, v in b.items()} for b in out]
    return out


def build(args: argparse.Namespace, compile: bool = False) -> HeatmapModule:  # noqa: A002
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
        compile=compile,
    )


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bare_loop(model: HeatmapModule, batches: list[dict], warmup: int, args: argparse.Namespace) -> float:
    """Plain PyTorch, best practice: copy, forward under autocast, encode, loss, backward, step.
    Returns seconds for the timed steps."""
    device = torch.device(args.device)
    model.to(device)
    if args.device == "cuda":
        model.use_channels_last(True)
    opt = model.configure_optimizers()  # AdamW, fused on CUDA, foreach on the CPU
    forward = torch.compile(model.forward) if args.compile else model
    dtype = AUTOCAST.get(args.precision)
    scaler = torch.amp.GradScaler(args.device, enabled=dtype == torch.float16)
    model.train()
    enc, loss_fn = model.encoding, model.loss
    start = 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            _sync(args.device)
            start = time.perf_counter()
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(args.device, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = forward(batch["image"])  # uint8 in: the model normalises
            with torch.no_grad():
                target, weight = enc.encode(batch["keypoints"], batch["visibility"])
            loss = loss_fn(out, target, weight, keypoints=batch["keypoints"], encoding=enc)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    _sync(args.device)
    return time.perf_counter() - start


class _Timer(L.Callback):
    def __init__(self, warmup: int, last: int, device: str) -> None:
        self.warmup, self.last, self.device, self.start, self.end = warmup, last, device, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if batch_idx == self.warmup:
            _sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        if batch_idx == self.last:
            _sync(self.device)
        self.end = time.perf_counter()


def lightning_loop(model: HeatmapModule, batches: list[dict], warmup: int, args: argparse.Namespace) -> float:
    """``Trainer.fit`` over the same batches (pre-batched: ``batch_size=None`` loader, no workers)."""
    timer = _Timer(warmup, len(batches) - 1, args.device)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    trainer = L.Trainer(
        accelerator="gpu" if args.device == "cuda" else "cpu",
        precision=args.precision,
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
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--precision", default="32", help="32 | bf16-mixed | 16-mixed (Lightning's names)")
    p.add_argument("--compile", action="store_true", help="torch.compile the forward (both loops)")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("train_step.py: --device cuda but torch sees no CUDA device")
    if args.precision not in ("32", *AUTOCAST):
        raise SystemExit(f"train_step.py: --precision must be 32, bf16-mixed or 16-mixed, got {args.precision}")
    if args.device == "cuda":
        torch.set_float32_matmul_precision("high")
    pin = args.device == "cuda"
    batches = make_batches(args.warmup + args.steps, args.batch_size, tuple(args.size), args.keypoints, pin=pin)
    base = build(args)
    init = copy.deepcopy(base.state_dict())
    times: dict[str, list[float]] = {"bare": [], "lightning": []}
    for _ in range(args.repeats):
        for mode, fn in (("bare", bare_loop), ("lightning", lightning_loop)):
            model = build(args, compile=args.compile and mode == "lightning")
            model.load_state_dict(init)
            times[mode].append(fn(model, batches, args.warmup, args))
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
    ratio = res["lightning"]["images_per_s"] / res["bare"]["images_per_s"]
    result = {
        "config": {k: v for k, v in vars(args).items() if k != "json"} | {"torch_threads": torch.get_num_threads()},
        "bare": res["bare"],
        "lightning": res["lightning"],
        "overhead_percent": overhead,
        "goal_percent": 5.0,
        "ratio_lightning_over_plain": ratio,
        "goal_ratio": 0.9,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(
        f"HeatmapModule training throughput: {args.backbone} + deconv head, input {args.size[0]}x{args.size[1]}, "
        f"batch {args.batch_size}, K={args.keypoints}, {args.steps} timed steps, "
        f"best of {args.repeats} alternating runs, "
        f"{torch.get_num_threads()} threads, device {args.device}, precision {args.precision}"
        + (", compiled" if args.compile else "")
    )
    print("| loop | images/s (best) | ms/step (best) | images/s (median) |\n|---|---:|---:|---:|")
    for m in ("bare", "lightning"):
        r = res[m]
        print(f"| {m} | {r['images_per_s']:.1f} | {r['ms_per_step']:.1f} | {r['median_images_per_s']:.1f} |")
    print(f"Lightning overhead: {overhead:+.1f}% (goal <= 5%); Lightning / plain: {ratio:.2f}x (goal >= 0.9x)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
