"""Measures the default run: ``lit-heatmap-train`` with no arguments (synthetic data, CPU).

Runs the real console script in a subprocess from a temporary directory, and reports the wall
time and the final validation metrics read from the run's ``csv/metrics.csv``. The goal of the
issue: <= 5 minutes on a 2-core machine and val PCK@0.05 >= 0.90.

    python benchmarks/default_run.py            # table
    python benchmarks/default_run.py --json     # one JSON object
    python benchmarks/default_run.py -- trainer.max_epochs=1   # extra overrides after --

Timings depend on the machine and on what else runs on it: the load average before the run is
printed so that a noisy measurement can be recognised.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def console_script(name: str = "lit-heatmap-train") -> list[str]:
    """The installed console script next to this Python, else ``python -m lit_heatmap.train``."""
    path = Path(sys.executable).parent / name
    return [str(path)] if path.exists() else [sys.executable, "-m", "lit_heatmap.train"]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def final_metrics(run_dir: Path) -> dict[str, float]:
    """Last logged value of every column of csv/metrics.csv, plus the best val/PCK@0.05."""
    rows = list(csv.DictReader(open(run_dir / "csv" / "metrics.csv")))
    last: dict[str, float] = {}
    for row in rows:
        for k, v in row.items():
            if v not in (None, "") and k not in ("epoch", "step"):
                last[k] = float(v)
    pck = [float(r["val/PCK@0.05"]) for r in rows if r.get("val/PCK@0.05")]
    if pck:
        last["val/PCK@0.05/best"] = max(pck)
        last["val/epochs"] = len(pck)
    return last


def run(overrides: list[str], keep: bool = False) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="lit_heatmap_default_run_"))
    cmd = [*console_script(), *overrides]
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", HF_HUB_OFFLINE="1")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"the default run failed (exit {proc.returncode}): {' '.join(cmd)}")
    run_dirs = sorted((work / "logs" / "train" / "runs").iterdir())
    metrics = final_metrics(run_dirs[-1])
    result = {
        "command": " ".join(["lit-heatmap-train", *overrides]),
        "wall_s": round(wall, 1),
        "val_PCK@0.05": metrics.get("val/PCK@0.05"),
        "val_PCK@0.05_best": metrics.get("val/PCK@0.05/best"),
        "val_EPE_px": metrics.get("val/EPE"),
        "epochs": metrics.get("val/epochs"),
        "goal": "wall_s <= 300 and val_PCK@0.05 >= 0.90",
        "goal_met": bool(wall <= 300 and (metrics.get("val/PCK@0.05") or 0) >= 0.90),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_avg_1min_before": round(load, 2),
        "run_dir": str(run_dirs[-1]),
    }
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
        result["run_dir"] += " (deleted; --keep keeps it)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = parser.parse_args()
    result = run(args.overrides, keep=args.keep)
    if args.json:
        print(json.dumps(result))
        return
    print("| command | wall time | val PCK@0.05 (final) | best | val EPE (px) | epochs | goal met |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| `{result['command']}` | {result['wall_s']:.0f} s | {result['val_PCK@0.05']:.4f} | "
        f"{result['val_PCK@0.05_best']:.4f} | {result['val_EPE_px']:.2f} | {result['epochs']:.0f} | "
        f"{result['goal_met']} |"
    )
    print(
        f"\nmachine: {result['cpu']}, {result['cpu_count']} CPUs, 1-min load average before the run "
        f"{result['load_avg_1min_before']}"
    )


if __name__ == "__main__":
    main()
