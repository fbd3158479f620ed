"""CLI vs plain script training throughput (images/s) on a small lab stand-in, same run, as a ratio.

    python benchmarks/lab_throughput.py --seconds 120 [--batch-size 8] [--device cpu|cuda] [--json]

Builds a DeepLabCut stand-in (``lab_standins.py --kind openfield --frames 80``), then trains for the same
wall-clock budget, one after the other: ``lit-heatmap-train dataset=dlc backbone=resnet18 head=deconv``
(SimpleBaseline's head: 3 deconvolutions) with ``trainer.max_time``, and ``plain_baseline.py`` (resnet18 +
3 deconvolutions, single process). Images/s = optimizer steps x batch / training seconds (ours: the
Timer's training time from ``last.ckpt``, validations and checkpoint writes included; plain: its loop
time). Goal: ours / plain >= 0.9. ``--device cuda`` trains ours with ``trainer=gpu``; plain_baseline.py
has no device option yet (CPU only), so that ratio is not like for like.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dlc import run_logged, train_command  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0, help="training budget per side")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--frames", type=int, default=80)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="lab_throughput_"))
    project = work / "openfield"
    if not (project / "config.yaml").is_file():
        subprocess.run(
            [sys.executable, str(HERE / "lab_standins.py"), "--out", str(project), "--kind", "openfield",
             "--frames", str(args.frames), "--heldout", "4"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    minutes = args.seconds / 60
    extra = ["head=deconv", f"dataset.batch_size={args.batch_size}", "extras.print_config=false"]
    if args.device == "cuda":
        extra.append("trainer=gpu")
    cmd = train_command(project, minutes, work / "ours" / "logs", extra)
    rc, wall = run_logged(cmd, work / "ours.log", env, cwd=work)
    if rc != 0:
        raise SystemExit(f"lit-heatmap-train failed (exit {rc}), see {work / 'ours.log'}")
    last = max((work / "ours" / "logs").glob("train/runs/*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    timer = next(v for k, v in ckpt["callbacks"].items() if k.startswith("Timer"))
    ours_s, ours_steps = float(timer["time_elapsed"]["train"]), int(ckpt["global_step"])
    plain_cmd = [sys.executable, str(HERE / "plain_baseline.py"), "--project", str(project), "--heldout",
                 str(work / "openfield_heldout" / "frames"), "--minutes", f"{minutes:g}", "--out",
                 str(work / "plain"), "--batch-size", str(args.batch_size)]  # fmt: skip
    rc, _ = run_logged(plain_cmd, work / "plain.log", env)
    if rc != 0:
        raise SystemExit(f"plain_baseline failed (exit {rc}), see {work / 'plain.log'}")
    log = json.loads((work / "plain" / "train_log.json").read_text())
    rows = {
        "ours": dict(steps=ours_steps, train_s=round(ours_s, 1), images_per_s=ours_steps * args.batch_size / ours_s),
        "plain": dict(
            steps=log["iterations"],
            train_s=log["train_s"],
            images_per_s=log["iterations"] * args.batch_size / log["train_s"],
        ),
    }
    ratio = rows["ours"]["images_per_s"] / rows["plain"]["images_per_s"]
    report = dict(device=args.device, batch_size=args.batch_size, frames=args.frames, seconds=args.seconds,
                  rows=rows, ratio=round(ratio, 3), goal_met=ratio >= 0.9, ours_wall_s=round(wall, 1))  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(
        f"lab stand-in throughput: openfield {args.frames} frames, batch {args.batch_size}, "
        f"{args.seconds:g} s, {args.device}"
    )
    print("| side | optimizer steps | training s | images/s |\n|---|---:|---:|---:|")
    for side, r in rows.items():
        print(f"| {side} | {r['steps']} | {r['train_s']} | {r['images_per_s']:.2f} |")
    print(f"ours / plain: {ratio:.3f} (goal >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
