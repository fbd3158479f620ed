"""Does the hybrid head (2D heatmap + SimCC, fused) help on occluded keypoints?

Trains three models with the same timm backbone, data, optimizer and number of steps on the
synthetic stick figures (``lit_heatmap.data.Synthetic``), then reports PCK@0.05 (normalised by the
box's longer side, in original px) on a validation set where every image has an occluder, split
into occluded and visible keypoints:

* ``2d``: DeconvHeatmapHead + Heatmap2D (unbiased) + MSE, decoded with DARK;
* ``simcc``: SimCCHead + SimCC + KL, decoded with the windowed soft-argmax of softmax(beta x);
* ``hybrid``: HybridHead + Hybrid + HybridLoss, decoded three ways from the same network:
  ``product`` (HybridDecoder's fusion), ``heatmap`` (2D branch alone), ``simcc`` (SimCC branch alone).

    python benchmarks/hybrid.py                 # ~ a few minutes on a laptop CPU
    python benchmarks/hybrid.py --steps 600 --seeds 0 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from lit_heatmap.codecs import (  # noqa: E402
    DarkDecoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    SimCC,
    SoftArgmaxDecoder,
)
from lit_heatmap.data import Synthetic  # noqa: E402
from lit_heatmap.models import (  # noqa: E402
    Backbone,
    DeconvHeatmapHead,
    HybridHead,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SimCCHead,
)
from lit_heatmap.module import HeatmapModule  # noqa: E402
from lit_heatmap.nodes import build, node  # noqa: E402


def render(n: int, seed: int, size: tuple[int, int], occluder_prob: float) -> dict[str, torch.Tensor]:
    """``n`` synthetic samples stacked into one batch dict (tensor keys only)."""
    ds = Synthetic(num_samples=n, seed=seed, input_size=size, occluder_prob=occluder_prob)
    samples = [ds[i] for i in range(n)]
    return {k: torch.stack([s[k] for s in samples]) for k, v in samples[0].items() if isinstance(v, torch.Tensor)}


def variants(args: argparse.Namespace) -> dict[str, tuple[Any, ...]]:
    """name -> (head, encoding, {decoder name: decoder}, loss) config nodes."""
    hm = node(Heatmap2D, input_size=None, sigma=args.sigma_2d, mode="unbiased")
    sc = node(SimCC, input_size=None, split_ratio=2.0, sigma=args.sigma_simcc)
    simcc_opts = {"in_index": args.simcc_in_index}
    return {
        "2d": (
            node(DeconvHeatmapHead, deconv_channels=args.channels),
            hm,
            {"dark": node(DarkDecoder)},
            node(KeypointMSELoss),
        ),
        "simcc": (
            node(SimCCHead, **simcc_opts),
            sc,
            {"soft_argmax": node(SoftArgmaxDecoder, beta=10.0, window=int(3 * args.sigma_simcc) + 1)},
            node(KLDiscreteLoss),
        ),
        "hybrid": (
            node(HybridHead, heatmap={"deconv_channels": args.channels}, simcc=simcc_opts),
            node(Hybrid, heatmap=hm, simcc=sc),
            {m: node(HybridDecoder, mode=m) for m in ("product", "heatmap", "simcc")},
            node(HybridLoss, heatmap_weight=args.heatmap_weight),
        ),
    }


def train(model: HeatmapModule, data: dict[str, torch.Tensor], steps: int, batch_size: int, seed: int) -> float:
    """Plain loop over random mini-batches; lr x 0.1 for the last 20 % of the steps. Returns seconds."""
    opt = model.configure_optimizers()
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.8 * steps)], 0.1)
    g = torch.Generator().manual_seed(seed)
    n = data["image"].shape[0]
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=g)
        loss = model.training_step({k: v[idx] for k, v in data.items()}, 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return time.perf_counter() - t0


@torch.no_grad()
def evaluate(model: HeatmapModule, decoder: Any, data: dict[str, torch.Tensor], threshold: float) -> dict[str, float]:
    """PCK@threshold and PCK@(2 x threshold) (x max(bbox w, h), original px) and mean error, over
    occluded / visible / all keypoints."""
    model.eval()
    preds = []
    for i in range(0, data["image"].shape[0], 64):
        out = model(data["image"][i : i + 64])
        kpts, _ = decoder.decode(out, model.encoding)
        preds.append(kpts)
    from lit_heatmap.data.geometry import to_original

    pred = to_original(torch.cat(preds), data["affine"])
    err = (pred - data["orig_keypoints"]).norm(dim=-1)  # (N, K)
    norm = data["bbox"][:, 2:].amax(-1, keepdim=True)
    hit = (err <= threshold * norm).float()
    hit2 = (err <= 2 * threshold * norm).float()
    labelled = data["orig_visibility"] > 0
    occ = data["occluded"].bool() & labelled
    vis = ~data["occluded"].bool() & labelled
    res = {}
    for name, mask in (("occluded", occ), ("visible", vis), ("all", labelled)):
        res[f"pck_{name}"] = float(hit[mask].mean()) if mask.any() else float("nan")
        res[f"pck2_{name}"] = float(hit2[mask].mean()) if mask.any() else float("nan")
        res[f"err_{name}"] = float(err[mask].mean()) if mask.any() else float("nan")
    res["n_occluded"], res["n_visible"] = int(occ.sum()), int(vis.sum())
    return res


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--size", type=int, nargs=2, default=[64, 64], metavar=("W", "H"))
    p.add_argument("--train-samples", type=int, default=2048)
    p.add_argument("--val-samples", type=int, default=512)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=128, help="deconv channels of the 2D heads")
    p.add_argument("--sigma-2d", type=float, default=2.0, help="heatmap px")
    p.add_argument("--sigma-simcc", type=float, default=3.0, help="bins (split ratio 2)")
    p.add_argument("--simcc-in-index", type=int, default=-2, help="backbone level of the SimCC heads")
    p.add_argument("--heatmap-weight", type=float, default=100.0, help="HybridLoss heatmap_weight")
    p.add_argument("--threshold", type=float, default=0.05)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    size = tuple(args.size)
    train_data = render(args.train_samples, 0, size, occluder_prob=0.5)
    meta = Synthetic(num_samples=1, input_size=size).meta
    val_data = render(args.val_samples, 1, size, occluder_prob=1.0)
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        for name, (head, enc, decoders, loss) in variants(args).items():
            torch.manual_seed(seed)
            model = HeatmapModule(
                node(Backbone, name=args.backbone),
                head,
                enc,
                next(iter(decoders.values())),
                loss,
                meta,
                {"_target_": "torch.optim.Adam", "_partial_": True, "lr": args.lr},
            )
            secs = train(model, train_data, args.steps, args.batch_size, seed)
            for dec_name, dec in decoders.items():
                r = evaluate(model, build(dec), val_data, args.threshold)
                rows.append({"model": name, "decoder": dec_name, "seed": seed, "train_s": secs, **r})
                if not args.json:
                    print(
                        f"  seed {seed} {name:6s} {dec_name:11s} PCK occluded {r['pck_occluded']:.3f} visible "
                        f"{r['pck_visible']:.3f} all {r['pck_all']:.3f} ({secs:.0f}s)",
                        file=sys.stderr,
                        flush=True,
                    )
    result = {"config": {k: v for k, v in vars(args).items() if k != "json"}, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    first = rows[0]
    print(
        f"\nPCK@{args.threshold} on synthetic val ({args.val_samples} images, all with an occluder; "
        f"{first['n_occluded']} occluded / {first['n_visible']} visible keypoints), {args.backbone} at "
        f"{size[0]}x{size[1]}, {args.steps} steps x batch {args.batch_size}, mean over seeds {args.seeds}"
    )
    t2 = f"{2 * args.threshold:g}"
    print(
        f"| model | decoder | PCK occluded | PCK visible | PCK all | PCK@{t2} occluded | PCK@{t2} visible | "
        "err occluded (px) | err visible (px) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    keys = list(dict.fromkeys((r["model"], r["decoder"]) for r in rows))
    for m, d in keys:
        sel = [r for r in rows if r["model"] == m and r["decoder"] == d]
        avg = {
            k: sum(r[k] for r in sel) / len(sel)
            for k in (
                "pck_occluded",
                "pck_visible",
                "pck_all",
                "pck2_occluded",
                "pck2_visible",
                "err_occluded",
                "err_visible",
            )
        }
        print(
            f"| {m} | {d} | {avg['pck_occluded']:.3f} | {avg['pck_visible']:.3f} | {avg['pck_all']:.3f} | "
            f"{avg['pck2_occluded']:.3f} | {avg['pck2_visible']:.3f} | {avg['err_occluded']:.2f} | "
            f"{avg['err_visible']:.2f} |"
        )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
