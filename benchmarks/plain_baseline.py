"""A plain PyTorch keypoint script -- the baseline that benchmarks/dlc.py compares lit_heatmap with.

What a competent lab engineer writes in ~200 lines for a DeepLabCut project (single animal):
SimpleBaseline (timm ``resnet18`` + 3 deconvolutions to stride 4 + a 1x1 conv), Gaussian heatmaps
(sigma 2 heatmap px) at stride 4, MSE loss, the whole frame letterboxed into the input (aspect kept,
padded), random affine (scale 0.75-1.25, rotation +-30 deg, shift +-10 %) and colour (contrast,
brightness, per-channel gain, noise) augmentation, no flip, Adam 1e-3 (x0.1 for the last quarter of
the time), batch 8, trained for a wall-clock budget; argmax decoding with the quarter-pixel offset
towards the higher neighbour. Input size: the 320x256 pixel budget in the frame's aspect, multiples
of 32 (640x480 -> 320x256, i.e. half resolution; 396x406 -> 288x288).

    python benchmarks/plain_baseline.py --project P --heldout P_heldout/frames --minutes 10 --out OUT

writes ``OUT/predictions.json`` ``{file_name: [[x, y], ...K]}`` in original frame pixels, and
``OUT/train_log.json``. ``--pretrained`` loads ImageNet weights through timm (a download).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import time
from pathlib import Path

import cv2
import numpy as np
import timm
import torch
import torch.nn as nn
import yaml

MEAN, STD = np.array([0.485, 0.456, 0.406]) * 255, np.array([0.229, 0.224, 0.225]) * 255


def read_project(root: Path) -> tuple[list[str], list[tuple[Path, np.ndarray]]]:
    """Keypoint names and ``(image path, (K, 2) labels, NaN = unlabelled)`` from a DLC project's CSVs."""
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    names = cfg["bodyparts"] if isinstance(cfg.get("bodyparts"), list) else []
    files = sorted(root.glob("labeled-data/*/CollectedData_*.csv")) or [root / "CollectedData.csv"]
    samples: dict[str, np.ndarray] = {}
    for f in files:
        rows = list(csv.reader(f.open()))
        header = {r[0]: r for r in rows[:4] if r and r[0] in ("scorer", "individuals", "bodyparts", "coords")}
        if "individuals" in header:
            raise SystemExit("plain_baseline: multi-animal projects are not supported")
        n_index, parts = header["coords"].index("x"), header["bodyparts"]
        names = names or list(dict.fromkeys(parts[n_index:]))
        for r in rows[len(header) :]:
            kp = np.full((len(names), 2), np.nan)
            for j in range(n_index, len(r) - 1, 2):
                if r[j] and r[j + 1] and parts[j] in names:
                    kp[names.index(parts[j])] = float(r[j]), float(r[j + 1])
            samples["/".join(c for c in r[:n_index] if c)] = kp
    return names, [(root / p, kp) for p, kp in samples.items()]


def letterbox(w: int, h: int, size: tuple[int, int]) -> np.ndarray:
    """3x3 matrix: the whole ``w x h`` frame scaled into ``size`` (aspect kept), centred, padded."""
    s = min(size[0] / w, size[1] / h)
    return np.array([[s, 0, (size[0] - s * w) / 2], [0, s, (size[1] - s * h) / 2], [0, 0, 1]])


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((img - MEAN) / STD).transpose(2, 0, 1).astype(np.float32))


def sample(
    img: np.ndarray, kp: np.ndarray, size: tuple[int, int], sigma: float, train: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented input, target heatmaps (K, H/4, W/4) and per-keypoint weights."""
    m = letterbox(img.shape[1], img.shape[0], size)
    if train:
        a = np.eye(3)
        a[:2] = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), random.uniform(-30, 30), random.uniform(0.75, 1.25))
        a[:2, 2] += np.random.uniform(-0.1, 0.1, 2) * size
        m = a @ m
    x = cv2.warpAffine(img, m[:2], size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)).astype(np.float32)
    if train:
        x = x * random.uniform(0.7, 1.3) + random.uniform(-25, 25)
        x = x * np.random.uniform(0.9, 1.1, 3) + np.random.normal(0, random.uniform(0, 6), x.shape)
        x = np.clip(x, 0, 255)
    pts = kp @ m[:2, :2].T + m[:2, 2]
    hw, hh = size[0] // 4, size[1] // 4
    gx, gy = np.arange(hw)[None, None, :], np.arange(hh)[None, :, None]
    c = pts / 4
    ok = ~np.isnan(c).any(1) & (c[:, 0] >= 0) & (c[:, 0] <= hw - 1) & (c[:, 1] >= 0) & (c[:, 1] <= hh - 1)
    c = np.nan_to_num(c, nan=-1e3)
    heat = np.exp(-((gx - c[:, 0, None, None]) ** 2 + (gy - c[:, 1, None, None]) ** 2) / (2 * sigma**2))
    return to_tensor(x), torch.from_numpy(heat.astype(np.float32)), torch.from_numpy(ok.astype(np.float32))


class SimpleBaseline(nn.Module):
    """timm ResNet-18 (stride 32) + 3 x (deconv 4x4 stride 2, BN, ReLU) + 1x1 conv: heatmaps at stride 4."""

    def __init__(self, k: int, pretrained: bool = False) -> None:
        super().__init__()
        self.backbone = timm.create_model("resnet18", pretrained=pretrained, features_only=True, out_indices=(4,))
        ch, layers = self.backbone.feature_info.channels()[-1], []
        for _ in range(3):
            layers += [nn.ConvTranspose2d(ch, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
            ch = 256
        self.head = nn.Sequential(*layers, nn.Conv2d(256, k, 1))
        for m in self.head.modules():  # SimpleBaseline's init: small deconv/final weights, near-zero heatmaps
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[-1])


def decode(heat: torch.Tensor) -> np.ndarray:
    """(K, h, w) heatmaps -> (K, 2) input pixels: argmax + quarter offset towards the higher neighbour."""
    h = heat.numpy()
    out = np.zeros((h.shape[0], 2))
    for k, hm in enumerate(h):
        y, x = np.unravel_index(int(hm.argmax()), hm.shape)
        dx = 0.25 * np.sign(hm[y, x + 1] - hm[y, x - 1]) if 0 < x < hm.shape[1] - 1 else 0.0
        dy = 0.25 * np.sign(hm[y + 1, x] - hm[y - 1, x]) if 0 < y < hm.shape[0] - 1 else 0.0
        out[k] = 4 * (x + dx), 4 * (y + dy)
    return out


def input_size_for(w: int, h: int, budget: int = 320 * 256) -> tuple[int, int]:
    """The pixel budget in the frame's aspect ratio, sides rounded to multiples of 32."""
    iw = max(64, int(round(math.sqrt(budget * w / h) / 32)) * 32)
    return iw, max(64, int(round(budget / iw / 32)) * 32)


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"plain_baseline: cannot read {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path, required=True, help="DLC project folder (config.yaml, labeled-data/)")
    ap.add_argument("--heldout", type=Path, required=True, help="folder of frames to predict")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-clock training budget")
    ap.add_argument("--input-size", default="auto", help="WxH, e.g. 320x256 (auto: see the docstring)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--sigma", type=float, default=2.0, help="Gaussian sigma in heatmap pixels")
    ap.add_argument("--pretrained", action="store_true", help="ImageNet weights (timm download)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed), np.random.seed(args.seed), torch.manual_seed(args.seed)

    names, labelled = read_project(args.project)
    data = [(read_rgb(p), kp) for p, kp in labelled]
    h0, w0 = data[0][0].shape[:2]
    size = input_size_for(w0, h0) if args.input_size == "auto" else tuple(int(v) for v in args.input_size.split("x"))
    model = SimpleBaseline(len(names), args.pretrained)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(
        f"plain_baseline: {len(data)} frames, {len(names)} keypoints, input {size[0]}x{size[1]}, {args.minutes:g} min",
        flush=True,
    )

    budget, t0, it, order, losses = args.minutes * 60, time.perf_counter(), 0, [], []
    model.train()
    while time.perf_counter() - t0 < budget:
        if time.perf_counter() - t0 > 0.75 * budget and opt.param_groups[0]["lr"] == args.lr:
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.1
        if len(order) < args.batch_size:
            order += random.sample(range(len(data)), len(data))
        batch = [sample(*data[order.pop()], size, args.sigma, True) for _ in range(args.batch_size)]
        x, target, weight = (torch.stack(v) for v in zip(*batch))
        loss = (((model(x) - target) ** 2).mean((2, 3)) * weight).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        it += 1
        if it % 20 == 0:
            print(f"  iter {it}  {time.perf_counter() - t0:6.0f} s  loss {np.mean(losses[-20:]):.6f}", flush=True)
    train_s = time.perf_counter() - t0

    model.eval()
    preds: dict[str, list[list[float]]] = {}
    files = sorted(f for f in args.heldout.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
    with torch.no_grad():
        for f in files:
            img = read_rgb(f)
            m = letterbox(img.shape[1], img.shape[0], size)
            x = to_tensor(cv2.warpAffine(img, m[:2], size, flags=cv2.INTER_LINEAR).astype(np.float32))
            pts = decode(model(x[None])[0])
            preds[f.name] = (((pts - m[:2, 2]) / m[0, 0]).round(3)).tolist()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "predictions.json").write_text(json.dumps(preds))
    log = dict(
        keypoints=names,
        frames=len(data),
        input_size=list(size),
        iterations=it,
        train_s=round(train_s, 1),
        epochs=round(it * args.batch_size / len(data), 1),
        final_loss=float(np.mean(losses[-20:] or [np.nan])),
    )
    (args.out / "train_log.json").write_text(json.dumps(log, indent=1))
    print(f"plain_baseline: {it} iterations in {train_s:.0f} s; {len(preds)} frames -> {args.out / 'predictions.json'}")


if __name__ == "__main__":
    main()
