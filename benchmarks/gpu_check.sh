#!/usr/bin/env bash
# The GPU checks of the README ("Benchmarks"), one script, <= 8 minutes on one GPU:
#   1. training step: the product's Lightning run against the plain best-practice loop (bf16 autocast,
#      channels_last, fused AdamW), resnet50 + deconv, 256x192, batch 64; again with torch.compile;
#   2. a 60 s run of the CLI on an 84-frame DeepLabCut stand-in against the plain script
#      (benchmarks/lab_throughput.py --device when it exists; else the CLI against benchmarks/plain_baseline.py,
#      which trains on the CPU only: then the ratio shows the GPU's gain, not a like-for-like comparison);
#   3. a COCO-format stand-in: the loader's samples/s against the model's training images/s.
# Prints one table (and writes every result as JSON under $OUT_DIR).
#
#   bash benchmarks/gpu_check.sh                 # on the GPU machine
#   bash benchmarks/gpu_check.sh --cpu-smoke     # (or GPU_CHECK_CPU_SMOKE=1) tiny budgets on the CPU: proves it runs
#
# The GPU machine needs torch, lightning, timm, opencv and onnxruntime. What else the package needs
# (hydra-core, omegaconf, albumentations and their dependencies) is installed from wheels/ in the checkout
# when missing; prepare it beforehand on a machine with the same Python version and platform:
#   pip download hydra-core omegaconf albumentations -d wheels/      (wheels/ is git-ignored)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-python}"
[[ "$PY" == */* ]] && PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute: step 2 changes directory
SMOKE="${GPU_CHECK_CPU_SMOKE:-0}"
[[ "${1:-}" == "--cpu-smoke" ]] && SMOKE=1
OUT="${OUT_DIR:-$(mktemp -d -t gpu_check.XXXXXX)}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 WANDB_MODE=offline NO_ALBUMENTATIONS_UPDATE=1 PYTHONUNBUFFERED=1

# ---- dependencies: from wheels/ when missing; the package itself without touching its dependencies
if ! "$PY" -c "import hydra, omegaconf, albumentations" 2>/dev/null; then
  if [[ ! -d wheels ]]; then
    echo "gpu_check: hydra-core/omegaconf/albumentations are missing and there is no wheels/ folder" >&2
    echo "  (pip download hydra-core omegaconf albumentations -d wheels/ on a machine with the same Python)" >&2
    exit 1
  fi
  "$PY" -m pip install -q --no-index --find-links wheels hydra-core omegaconf albumentations
fi
if ! "$PY" -c "import lit_heatmap.conf" 2>/dev/null; then
  "$PY" -m pip install -q --no-deps --no-index --no-build-isolation -e .
fi

if [[ "$SMOKE" == 1 ]]; then
  DEV=cpu; PREC=32; TRAINER=cpu
  STEP=(--backbone resnet18 --size 64 64 --batch-size 4 --steps 2 --warmup 1 --repeats 1)
  SECS=10; FRAMES=24; HELD=4; BATCH=4
  DATA=(--n 32 --images 4 --repeats 1 --batch-size 8 --no-real --backbone resnet18 --steps 2)
  COMPILE=0
else
  DEV=cuda; PREC=bf16-mixed; TRAINER=gpu
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device (use --cpu-smoke)')"
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_bf16_supported(including_emulation=False) else 1)" || PREC=16-mixed
  STEP=(--backbone resnet50 --size 192 256 --batch-size 64 --steps 30 --warmup 10 --repeats 3)
  SECS=60; FRAMES=84; HELD=40; BATCH=16
  DATA=(--n 4096 --images 64 --repeats 2 --batch-size 64 --backbone resnet50 --steps 30)
  COMPILE=1
fi
echo "gpu_check: device $DEV, precision $PREC, results in $OUT" >&2

# ---- 1. training step
"$PY" benchmarks/train_step.py --device "$DEV" --precision "$PREC" "${STEP[@]}" --json > "$OUT/step.json"
if [[ "$COMPILE" == 1 ]]; then
  "$PY" benchmarks/train_step.py --device "$DEV" --precision "$PREC" "${STEP[@]}" --repeats 1 --compile --json \
    > "$OUT/step_compile.json" || echo '{"error": "compile run failed"}' > "$OUT/step_compile.json"
fi

# ---- 2. small project: the CLI for SECS seconds against the plain script
if [[ -f benchmarks/lab_throughput.py ]]; then
  # the small-project benchmark of the README (CLI vs plain script, images/s), on this device
  "$PY" benchmarks/lab_throughput.py --device "$DEV" --seconds "$SECS" --frames "$FRAMES" --batch-size "$BATCH" \
    --work "$OUT/lab" --json > "$OUT/small.json" 2> "$OUT/small.log" \
    || echo '{"error": "benchmarks/lab_throughput.py failed"}' > "$OUT/small.json"
else
  "$PY" benchmarks/lab_standins.py --out "$OUT/openfield" --kind openfield --frames "$FRAMES" --heldout "$HELD" \
    --seed 0 >&2
  mkdir -p "$OUT/cli"
  (cd "$OUT/cli" && "$PY" -m lit_heatmap.train dataset=dlc dataset.root="$OUT/openfield" backbone=resnet18 \
    head=deconv dataset.batch_size="$BATCH" trainer="$TRAINER" trainer.max_time="00:00:00:$(printf %02d "$SECS")" \
    logger=csv extras.print_config=false > "$OUT/cli.log" 2>&1) || echo "gpu_check: the CLI run failed, see $OUT/cli.log" >&2
  "$PY" benchmarks/plain_baseline.py --project "$OUT/openfield" --heldout "$OUT/openfield_heldout/frames" \
    --minutes "$(python3 -c "print($SECS / 60)")" --batch-size "$BATCH" --out "$OUT/plain" > "$OUT/plain.log" 2>&1 \
    || echo "gpu_check: the plain script failed, see $OUT/plain.log" >&2
fi

# ---- 3. loader against the step rate (COCO-format stand-in)
"$PY" benchmarks/data.py --device "$DEV" --precision "$PREC" "${DATA[@]}" --json > "$OUT/data.json"

# ---- one table
"$PY" - "$OUT" "$SECS" <<'EOF'
import csv, json, sys
from pathlib import Path

out, secs = Path(sys.argv[1]), float(sys.argv[2])
rows = []


def load(name):
    p = out / name
    return json.loads(p.read_text()) if p.exists() else None


for name, label in (("step.json", "train step"), ("step_compile.json", "train step, compiled")):
    r = load(name)
    if r is None:
        continue
    if "error" in r:
        rows.append((label, "failed", "", "", ""))
        continue
    c = r["config"]
    what = f"{c['backbone']} {c['size'][0]}x{c['size'][1]} b{c['batch_size']} {c['device']} {c['precision']}"
    rows.append((label, what, f"{r['lightning']['images_per_s']:.1f} img/s", f"{r['bare']['images_per_s']:.1f} img/s",
                 f"{r['ratio_lightning_over_plain']:.2f}x (goal >= 0.9x)"))

small = load("small.json")
if small is not None and "error" in small:
    rows.append((f"small project, {secs:.0f} s", "lab_throughput.py failed", "", "", ""))
elif small is not None:
    ours, plain = small["rows"]["ours"], small["rows"]["plain"]
    rows.append((f"small project, {secs:.0f} s", "dlc stand-in resnet18 + deconv (lab_throughput.py)",
                 f"{ours['images_per_s']:.1f} img/s", f"{plain['images_per_s']:.1f} img/s (plain, CPU)",
                 f"{small['ratio']:.2f}x (goal >= 0.9x)"))
else:
    import torch

    cli_steps = 0  # the optimizer steps of the run: last.ckpt's global_step, else the last logged step
    for c in (out / "cli").rglob("last.ckpt"):
        cli_steps = max(cli_steps, int(torch.load(c, map_location="cpu", weights_only=True)["global_step"]))
    for m in (out / "cli").rglob("metrics.csv"):
        steps = [int(r["step"]) for r in csv.DictReader(m.open()) if r.get("step")]
        cli_steps = max([cli_steps, *steps])
    plain = load("plain/train_log.json") or {}
    it = plain.get("iterations", 0)
    ratio = f"{cli_steps / it:.2f}x steps" if it else "n/a"
    rows.append((f"small project, {secs:.0f} s", "dlc stand-in resnet18", f"{cli_steps} steps",
                 f"{it} steps", ratio))

d = load("data.json")
if d is not None:
    s = d["settings"]
    rows.append(("COCO-format loader", f"{s['workers']} workers b{s['batch_size']}",
                 f"{d['samples_per_s']['pipeline']:.0f} samples/s", f"{d['model_step_images_per_s']:.0f} img/s step",
                 f"{d['ratio_loader_over_step']:.2f}x (>= 1: keeps up)"))

print("| check | setting | product | reference | ratio |")
print("|---|---|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(str(v) for v in r) + " |")
EOF
