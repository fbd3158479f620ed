"""Lab-data benchmark: lit_heatmap (``dataset=dlc``) against a plain PyTorch script, same CPU minutes.

The acceptance check this mirrors: on a DeepLabCut / lightning-pose labelled project, train our
product for M CPU minutes and "a plain 200-line PyTorch script" (benchmarks/plain_baseline.py) for the
same M minutes, one after the other (never concurrently), and score both on held-out frames in
original pixels. Goal: our RMSE <= 0.5 x the plain script's, and < 3 % of keypoints more than 30 px off.

    python benchmarks/dlc.py --kind openfield --minutes 10            # stand-in + both sides
    python benchmarks/dlc.py --kind mirror --minutes 3 --skip-ours    # the plain script only
    python benchmarks/dlc.py --project P --heldout P_heldout --json   # a project of your own
    python benchmarks/dlc.py --self-check                             # the scoring, on fake results
    python benchmarks/dlc.py --kind openfield --minutes 10 --dlc3 --dlc3-python VENV/bin/python  # + DLC 3

Without ``--project`` the stand-in of benchmarks/lab_standins.py is written to ``WORK/project`` (and
``WORK/project_heldout``). The held-out folder holds ``frames/`` and ``ground_truth.json``
(``{file_name: [[x, y] or null] * K}``; multi-animal: a list of such lists per frame); its optional
``meta.json`` names the left/right pairs, else they are derived from the keypoint names.

The sides:

* ours: ``lit-heatmap-train dataset=dlc dataset.root=<project> backbone=resnet18
  trainer.max_time=00:00:MM:SS paths.log_dir=WORK/ours/logs [--ours-args ...]``, then
  ``lit-heatmap-predict ckpt_path=<best (or last) ckpt> input=<held-out frames> output=WORK/ours/pred``,
  which writes ``results.json``: ``[{"file_name", "image_id", "keypoints": [x, y, score] * K, "score",
  "bbox"}]`` in original pixels (one instance per frame for a single animal: the best scored one is used);
* plain: ``python benchmarks/plain_baseline.py --project P --heldout <frames> --minutes M --out WORK/plain``
  -> ``predictions.json`` ``{file_name: [[x, y]] * K}``;
* dlc3 (``--dlc3``): DeepLabCut 3.x (PyTorch engine) from its own venv (``--dlc3-python``), run by this
  file as a worker: CSV -> H5, a training set with every labelled frame, a top-down-free ``resnet18``
  heatmap model (DLC's ResNet backbone with timm's resnet18, pretrained off like the others), trained
  until M minutes are spent (killed, then the latest snapshot is used), then ``analyze_images``.

Scores (labelled ground-truth keypoints only, original pixels): RMSE, median and mean error, % of
keypoints > 30 px off, per-keypoint RMSE / median, and the left/right swap rate: a prediction of a
keypoint that has a mirror partner (leftear/rightear, paw1LH/paw4RH, paw2LF/paw3RF) is a swap when it
lies closer to the partner's ground truth than to its own. A missing prediction counts as a miss with
the frame diagonal as its error. Multi-animal frames: predicted and true animals are matched per
frame by the assignment with the least mean error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OVER_PX = 30.0
Point = list[float] | None


# ----------------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------------
def console_script(name: str, module: str) -> list[str]:
    """The installed console script next to this Python, else ``python -m <module>``."""
    path = Path(sys.executable).parent / name
    return [str(path)] if path.exists() else [sys.executable, "-m", module]


def max_time(minutes: float) -> str:
    """Lightning's ``trainer.max_time`` string ``DD:HH:MM:SS`` for a budget in minutes."""
    s = max(1, int(round(minutes * 60)))
    return f"{s // 86400:02d}:{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def hydra_value(value: str | Path) -> str:
    """A path as a Hydra override value: quoted when it holds characters Hydra's grammar reserves."""
    v = str(value)
    return v if re.fullmatch(r"[\w./\-+~:@]+", v) else "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def train_command(
    project: Path, minutes: float, log_dir: Path, extra: Sequence[str] = (), max_time_prefix: str = ""
) -> list[str]:
    """``lit-heatmap-train`` on a DLC project for a wall-clock budget (extra overrides last: they win).

    ``max_time_prefix`` "++" adds ``trainer.max_time`` when the trainer config does not declare it;
    the acceptance check writes it without a prefix.
    """
    return [
        *console_script("lit-heatmap-train", "lit_heatmap.train"),
        "dataset=dlc",
        f"dataset.root={hydra_value(project)}",
        "backbone=resnet18",
        f"{max_time_prefix}trainer.max_time={max_time(minutes)}",
        f"paths.log_dir={hydra_value(log_dir)}",
        *extra,
    ]


def predict_command(ckpt: Path, frames: Path, out: Path, log_dir: Path) -> list[str]:
    """``lit-heatmap-predict`` on a folder of frames (the whole frame is the box)."""
    return [
        *console_script("lit-heatmap-predict", "lit_heatmap.predict"),
        f"ckpt_path={hydra_value(ckpt)}",
        f"input={hydra_value(frames)}",
        f"output={hydra_value(out)}",
        f"paths.log_dir={hydra_value(log_dir)}",
    ]


def plain_command(project: Path, frames: Path, minutes: float, out: Path, extra: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        str(HERE / "plain_baseline.py"),
        "--project",
        str(project),
        "--heldout",
        str(frames),
        "--minutes",
        f"{minutes:g}",
        "--out",
        str(out),
        *extra,
    ]


def find_checkpoint(log_dir: Path, which: str = "best") -> Path:
    """The newest run's checkpoint under ``log_dir/train/runs``: the best one (``epoch_*.ckpt``) or ``last.ckpt``."""
    runs = sorted((log_dir / "train" / "runs").glob("*/checkpoints"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise FileNotFoundError(f"no checkpoints folder under {log_dir / 'train' / 'runs'}")
    ckpts = runs[-1]
    best = sorted((p for p in ckpts.glob("*.ckpt") if not p.name.startswith("last")), key=lambda p: p.stat().st_mtime)
    last = ckpts / "last.ckpt"
    order = [best[-1] if best else None, last] if which == "best" else [last, best[-1] if best else None]
    for p in order:
        if p is not None and p.is_file():
            return p
    raise FileNotFoundError(f"no .ckpt in {ckpts}")


def run_logged(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, float]:
    """Runs ``cmd`` with stdout+stderr to ``log``; returns (exit code, wall seconds)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd).returncode
    return rc, time.perf_counter() - t0


def tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# ----------------------------------------------------------------------------------------------
# predictions and ground truth
# ----------------------------------------------------------------------------------------------
def load_truth(heldout: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``ground_truth.json`` and ``meta.json`` (or {}) of a held-out folder."""
    truth = json.loads((heldout / "ground_truth.json").read_text())
    meta_file = heldout / "meta.json"
    return truth, (json.loads(meta_file.read_text()) if meta_file.is_file() else {})


def is_multi(truth: dict[str, Any]) -> bool:
    """Multi-animal ground truth: per frame a list of animals, each a list of points."""
    for v in truth.values():
        for item in v:
            if item is not None:
                return isinstance(item[0], list) or item[0] is None
    return False


def results_to_instances(results: list[dict[str, Any]], k: int) -> dict[str, list[tuple[float, list[Point]]]]:
    """lit-heatmap-predict's ``results.json`` -> per file name, ``(score, K points)`` best first."""
    out: dict[str, list[tuple[float, list[Point]]]] = {}
    for r in results:
        kp = r["keypoints"]
        if len(kp) != 3 * k:
            raise ValueError(f"results.json: {r.get('file_name')}: {len(kp) // 3} keypoints, the project has {k}")
        pts = [[float(kp[3 * i]), float(kp[3 * i + 1])] for i in range(k)]
        out.setdefault(Path(str(r["file_name"])).name, []).append((float(r.get("score", 1.0)), pts))
    for v in out.values():
        v.sort(key=lambda t: -t[0])
    return out


def load_ours(path: Path, k: int, multi: bool) -> dict[str, Any]:
    """Predictions of ours in the scorer's form: ``{file: K points}`` or, multi, ``{file: [K points] * n}``."""
    inst = results_to_instances(json.loads(path.read_text()), k)
    return {f: ([p for _, p in v] if multi else v[0][1]) for f, v in inst.items()}


def frame_diagonal(meta: dict[str, Any], frames: Path | None) -> float:
    """The penalty error of a missing prediction: the frame diagonal (meta.json, else the first frame)."""
    if meta.get("frame_size"):
        w, h = meta["frame_size"]
        return math.hypot(w, h)
    if frames is not None:
        import cv2  # only here: the rest of this file runs on the standard library (the DLC worker too)

        for f in sorted(frames.iterdir()):
            img = cv2.imread(str(f))
            if img is not None:
                return math.hypot(img.shape[1], img.shape[0])
    return 1000.0


def swap_pairs(names: list[str], meta: dict[str, Any]) -> list[tuple[int, int]]:
    """Left/right partner indices: meta.json's ``swap_pairs``, else names that differ only in left/right."""
    if meta.get("swap_pairs"):
        return [(names.index(a), names.index(b)) for a, b in meta["swap_pairs"] if a in names and b in names]
    rules = [("left", "right"), ("Left", "Right"), ("LH", "RH"), ("LF", "RF"), ("_l", "_r"), ("L_", "R_")]
    norm = [re.sub(r"paw\d+", "paw", n) for n in names]  # paw1LH_top / paw4RH_top -> pawLH_top / pawRH_top
    pairs = set()
    for i, a in enumerate(norm):
        for lft, rgt in rules:
            b = a.replace(lft, rgt)
            if lft in a and b in norm and norm.index(b) != i:
                pairs.add((i, norm.index(b)))
    return sorted(pairs)


def dist(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def valid(p: Any) -> bool:
    return p is not None and len(p) >= 2 and all(isinstance(v, (int, float)) and math.isfinite(v) for v in p[:2])


def match_animals(pred: list[list[Point]], gt: list[list[Point]], miss: float) -> list[list[Point] | None]:
    """For each true animal, the predicted animal of the assignment with the least total error."""

    def cost(p: list[Point] | None, g: list[Point]) -> float:
        errs = [dist(a, b) if valid(a) else miss for a, b in zip(p or [None] * len(g), g) if valid(b)]
        return sum(errs) / len(errs) if errs else 0.0

    slots: list[list[Point] | None] = list(pred) + [None] * len(gt)
    best, best_cost = None, float("inf")
    for perm in itertools.permutations(range(len(slots)), len(gt)):
        c = sum(cost(slots[j], g) for j, g in zip(perm, gt))
        if c < best_cost:
            best, best_cost = perm, c
    return [slots[j] for j in best] if best is not None else []


def score(
    preds: dict[str, Any], truth: dict[str, Any], names: list[str], pairs: list[tuple[int, int]], miss: float
) -> dict[str, Any]:
    """Errors of ``preds`` against ``truth`` (see the module docstring); both in original pixels."""
    multi = is_multi(truth)
    errors: list[float] = []
    per_kp: list[list[float]] = [[] for _ in names]
    swaps = swap_n = missing = 0
    for fname, gt_frame in truth.items():
        animals = gt_frame if multi else [gt_frame]
        pframe = preds.get(fname)
        if multi:
            matched = match_animals(pframe or [], animals, miss)
        else:
            matched = [pframe]
        for gt, pr in zip(animals, matched):
            pr = pr or [None] * len(names)
            for k, (g, p) in enumerate(zip(gt, pr)):
                if not valid(g):
                    continue
                if not valid(p):
                    missing += 1
                    e = miss
                else:
                    e = dist(p, g)
                errors.append(e)
                per_kp[k].append(e)
            for a, b in pairs:
                for i, j in ((a, b), (b, a)):
                    if valid(gt[i]) and valid(gt[j]) and valid(pr[i]):
                        swap_n += 1
                        swaps += dist(pr[i], gt[j]) < dist(pr[i], gt[i])

    def stats(e: list[float]) -> dict[str, float | int | None]:
        if not e:
            return dict(n=0, rmse=None, median=None, mean=None, over30_pct=None)
        s = sorted(e)
        med = s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
        return dict(
            n=len(e),
            rmse=math.sqrt(sum(v * v for v in e) / len(e)),
            median=med,
            mean=sum(e) / len(e),
            over30_pct=100.0 * sum(v > OVER_PX for v in e) / len(e),
        )

    out = stats(errors)
    out.update(
        missing=missing,
        swap_rate_pct=100.0 * swaps / swap_n if swap_n else None,
        swaps=swaps,
        swap_checks=swap_n,
        frames=len(truth),
        per_keypoint={n: stats(e) for n, e in zip(names, per_kp)},
    )
    return out


def acceptance(ours: dict[str, Any] | None, plain: dict[str, Any] | None) -> dict[str, Any]:
    """The goal: RMSE(ours) <= 0.5 RMSE(plain) and < 3 % of our keypoints > 30 px off."""
    if not ours or not plain or ours.get("rmse") is None or plain.get("rmse") is None:
        return dict(met=None, why="needs scores of both sides")
    ratio = ours["rmse"] / plain["rmse"] if plain["rmse"] > 0 else float("inf")
    return dict(met=bool(ratio <= 0.5 and ours["over30_pct"] < 3.0), rmse_ratio=ratio, over30_pct=ours["over30_pct"])


# ----------------------------------------------------------------------------------------------
# the sides
# ----------------------------------------------------------------------------------------------
def run_ours(
    project: Path,
    frames: Path,
    work: Path,
    minutes: float,
    extra: list[str],
    which: str,
    names: list[str],
    multi: bool,
    max_time_prefix: str = "",
) -> dict[str, Any]:
    out = work / "ours"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
    cmd = train_command(project, minutes, out / "logs", extra, max_time_prefix)
    rc, wall = run_logged(cmd, out / "train.log", env, cwd=out.parent)
    info: dict[str, Any] = dict(train_command=shlex.join(cmd), train_wall_s=round(wall, 1), train_rc=rc)
    if rc != 0:
        return dict(info, error=f"training failed (exit {rc}); {out / 'train.log'}:\n{tail(out / 'train.log')}")
    try:
        ckpt = find_checkpoint(out / "logs", which)
    except FileNotFoundError as err:
        return dict(info, error=str(err))
    cmd = predict_command(ckpt, frames, out / "pred", out / "logs")
    rc, wall = run_logged(cmd, out / "predict.log", env, cwd=out.parent)
    info.update(checkpoint=str(ckpt), predict_command=shlex.join(cmd), predict_wall_s=round(wall, 1))
    if rc != 0:
        return dict(info, error=f"prediction failed (exit {rc}); {out / 'predict.log'}:\n{tail(out / 'predict.log')}")
    return dict(info, predictions=load_ours(out / "pred" / "results.json", len(names), multi))


def run_plain(project: Path, frames: Path, work: Path, minutes: float, extra: list[str]) -> dict[str, Any]:
    out = work / "plain"
    shutil.rmtree(out, ignore_errors=True)
    cmd = plain_command(project, frames, minutes, out, extra)
    rc, wall = run_logged(cmd, work / "plain.log")
    info: dict[str, Any] = dict(command=shlex.join(cmd), train_wall_s=round(wall, 1), rc=rc)
    if rc != 0:
        return dict(info, error=f"plain_baseline failed (exit {rc}); {work / 'plain.log'}:\n{tail(work / 'plain.log')}")
    log = json.loads((out / "train_log.json").read_text())
    return dict(
        info,
        iterations=log.get("iterations"),
        epochs=log.get("epochs"),
        predictions=json.loads((out / "predictions.json").read_text()),
    )


# ---- DeepLabCut 3 (worker runs under the DLC venv's python; the harness talks to it by files) ----
def dlc3_worker(project: Path, frames: Path, out: Path, minutes: float, stage: str) -> None:
    """``stage`` prepare: copy the project, CSV -> H5, training set of all frames, a resnet18 config;
    train: DLC's training loop (the harness kills it at the budget); predict: the newest snapshot on ``frames``."""
    import deeplabcut  # the DLC venv
    import timm
    import yaml

    create_model = timm.create_model

    def no_download(*a: Any, **kw: Any) -> Any:  # DLC 3 always asks timm for ImageNet weights: like ours, none
        return create_model(*a, **dict(kw, pretrained=False))

    timm.create_model = no_download

    proj = out / "project"
    cfg_file = proj / "config.yaml"
    if stage == "prepare":
        shutil.rmtree(proj, ignore_errors=True)
        shutil.copytree(project, proj)
        cfg = yaml.safe_load(cfg_file.read_text())
        cfg.update(project_path=str(proj), engine="pytorch", default_net_type="resnet_50")
        cfg_file.write_text(yaml.safe_dump(cfg, sort_keys=False))
        deeplabcut.convertcsv2h5(str(cfg_file), userfeedback=False)
        import pandas as pd

        n = sum(len(pd.read_hdf(f)) for f in proj.glob("labeled-data/*/CollectedData_*.h5"))
        # every labelled frame trains (like the other sides); DLC insists on a test split: frame 0 again
        # (evaluation is switched off below). DLC finds the shuffle by its rounded training fraction.
        cfg["TrainingFraction"] = [round(n / (n + 1), 2)]
        cfg_file.write_text(yaml.safe_dump(cfg, sort_keys=False))
        deeplabcut.create_training_dataset(
            str(cfg_file),
            Shuffles=[1],
            net_type="resnet_50",
            userfeedback=False,
            trainIndices=[list(range(n))],
            testIndices=[[0]],
        )
        pose_cfgs = sorted(proj.glob("dlc-models-pytorch/**/train/pytorch_config.yaml"))
        pc = yaml.safe_load(pose_cfgs[-1].read_text())
        # DLC's resnet_50 recipe (output stride 16, one deconv, location refinement) with timm's resnet18
        pc["model"]["backbone"].update(model_name="resnet18", pretrained=False)
        pc["model"]["backbone_output_channels"] = 512
        for head in pc["model"]["heads"].values():
            for key in ("heatmap_config", "locref_config"):
                if key in head:
                    head[key]["channels"][0] = 512
        pc["train_settings"].update(epochs=100000, batch_size=8, dataloader_workers=0)
        pc["runner"]["snapshots"].update(save_epochs=1, max_snapshots=2)
        pc["runner"]["eval_interval"] = 100000
        pose_cfgs[-1].write_text(yaml.safe_dump(pc, sort_keys=False))
        print(f"dlc3 prepared {pose_cfgs[-1]}")
    elif stage == "train":
        deeplabcut.train_network(str(cfg_file), shuffle=1, trainingsetindex=0)
    elif stage == "predict":
        from deeplabcut.pose_estimation_pytorch.apis import analyze_images

        snaps = sorted(proj.glob("dlc-models-pytorch/**/train/snapshot-*.pt"), key=lambda p: p.stat().st_mtime)
        if not snaps:
            raise SystemExit("dlc3: no snapshot was saved within the budget")
        images = sorted(str(f) for f in frames.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
        res = analyze_images(
            str(cfg_file),
            images,
            output_dir=str(out / "analyze"),
            shuffle=1,
            trainingsetindex=0,
            snapshot_index=-1,
            device="cpu",
            max_individuals=1,
        )
        preds = {}
        for path, r in res.items():
            b = r["bodyparts"]  # (individuals, K, 3)
            preds[Path(path).name] = [[float(x), float(y)] for x, y, _ in b[0]]
        (out / "predictions.json").write_text(json.dumps(preds))
        print(f"dlc3: {len(preds)} frames predicted with {snaps[-1].name}")


def run_dlc3(python: str, project: Path, frames: Path, work: Path, minutes: float) -> dict[str, Any]:
    """DeepLabCut 3 in its own venv: prepare, train for ``minutes`` (counted from DLC's "Starting pose model
    training", so its import and data set-up are not charged), then predict with the newest snapshot."""
    out = work / "dlc3"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    me = [
        python,
        str(Path(__file__).resolve()),
        "--dlc3-worker",
        "--project",
        str(project),
        "--heldout-frames",
        str(frames),
        "--work",
        str(out),
        "--minutes",
        f"{minutes:g}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", HF_HUB_OFFLINE="1")
    info: dict[str, Any] = {}
    for stage in ("prepare", "train", "predict"):
        log = out / f"{stage}.log"
        t0 = time.perf_counter()
        with open(log, "w") as f:
            proc = subprocess.Popen(
                [*me, "--stage", stage], stdout=f, stderr=subprocess.STDOUT, env=env, cwd=out, start_new_session=True
            )
            started = None
            while proc.poll() is None:
                time.sleep(1.0)
                if stage != "train":
                    continue
                if started is None and (
                    "Starting pose model training" in log.read_text(errors="replace") or time.perf_counter() - t0 > 300
                ):
                    started = time.perf_counter()
                if started is not None and time.perf_counter() - started > minutes * 60:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                    break
            rc = proc.wait()
        info[f"{stage}_wall_s"], info[f"{stage}_rc"] = round(time.perf_counter() - t0, 1), rc
        if stage == "train":
            info["train_wall_s"] = round(time.perf_counter() - (started or t0), 1)
            epochs = re.findall(r"Epoch (\d+)/", log.read_text(errors="replace"))
            info["epochs"] = int(epochs[-1]) if epochs else 0
        elif rc != 0:
            return dict(info, error=f"dlc3 {stage} failed (exit {rc}); {log}:\n{tail(log)}")
    return dict(info, predictions=json.loads((out / "predictions.json").read_text()))


# ----------------------------------------------------------------------------------------------
# report
# ----------------------------------------------------------------------------------------------
def fmt(v: Any, nd: int = 1) -> str:
    return "-" if v is None else f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any]) -> str:
    sides = [s for s in ("ours", "plain", "dlc3") if s in report["sides"]]
    lines = [
        f"lab-data benchmark: {report['kind']} ({report['project']}), {report['minutes']:g} min per side, "
        f"{report['heldout_frames']} held-out frames",
        "",
        "| side | RMSE px | median px | mean px | % > 30 px | swap rate % | missing | train wall s | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sides:
        r = report["sides"][s]
        sc = r.get("score") or {}
        note = (
            "FAILED: " + r["error"].splitlines()[0]
            if r.get("error")
            else (f"{r.get('iterations')} iterations, {r.get('epochs')} epochs" if s == "plain" else "")
        )
        lines.append(
            f"| {s} | {fmt(sc.get('rmse'), 2)} | {fmt(sc.get('median'), 2)} | {fmt(sc.get('mean'), 2)} | "
            f"{fmt(sc.get('over30_pct'))} | {fmt(sc.get('swap_rate_pct'))} | {fmt(sc.get('missing'))} | "
            f"{fmt(r.get('train_wall_s'))} | {note} |"
        )
    scored = [s for s in sides if report["sides"][s].get("score")]
    if scored:
        lines += [
            "",
            "| keypoint | " + " | ".join(f"{s} RMSE / median px" for s in scored) + " |",
            "|---|" + "---|" * len(scored),
        ]
        for name in report["keypoints"]:
            cells = [report["sides"][s]["score"]["per_keypoint"][name] for s in scored]
            lines.append(
                f"| {name} | "
                + " | ".join(f"{fmt(c['rmse'], 2)} / {fmt(c['median'], 2)} (n={c['n']})" for c in cells)
                + " |"
            )
    acc = report.get("acceptance", {})
    if acc.get("met") is not None:
        lines += [
            "",
            f"acceptance (RMSE ours / plain <= 0.5 and ours % > 30 px < 3): "
            f"{'MET' if acc['met'] else 'NOT MET'} (ratio {acc['rmse_ratio']:.3f}, "
            f"{acc['over30_pct']:.1f} % > 30 px)",
        ]
    for s in sides:
        if report["sides"][s].get("error"):
            lines += ["", f"{s}: {report['sides'][s]['error']}"]
    return "\n".join(lines)


def self_check() -> None:
    """Scoring and command construction on fake results (no training): raises AssertionError on a bug."""
    names = ["snout", "leftear", "rightear", "tailbase"]
    truth = {
        "a.png": [[100.0, 100.0], [90.0, 110.0], [110.0, 110.0], None],
        "b.png": [[200.0, 100.0], [190.0, 110.0], [210.0, 110.0], [200.0, 180.0]],
    }
    results = [  # a.png: 3-4-5 px off; b.png: ears swapped, tail base 40 px off; a weaker 2nd instance ignored
        {
            "file_name": "a.png",
            "image_id": 0,
            "score": 0.9,
            "bbox": [0, 0, 640, 480],
            "keypoints": [103, 104, 1, 93, 114, 1, 113, 114, 1, 0, 0, 0],
        },
        {"file_name": "a.png", "image_id": 0, "score": 0.1, "bbox": [0, 0, 640, 480], "keypoints": [0] * 12},
        {
            "file_name": "b.png",
            "image_id": 1,
            "score": 0.8,
            "bbox": [0, 0, 640, 480],
            "keypoints": [200, 100, 1, 210, 110, 1, 190, 110, 1, 200, 220, 1],
        },
    ]
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"dlc_self_check_{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "results.json").write_text(json.dumps(results))
    preds = load_ours(tmp / "results.json", 4, multi=False)
    pairs = swap_pairs(names, {})
    assert pairs == [(1, 2)], pairs
    s = score(preds, truth, names, pairs, miss=800.0)
    errs = [5, 5, 5, 0, 20, 20, 40]
    assert s["n"] == 7 and abs(s["rmse"] - math.sqrt(sum(e * e for e in errs) / 7)) < 1e-9, s
    assert s["median"] == 5 and abs(s["over30_pct"] - 100 / 7) < 1e-9 and s["missing"] == 0, s
    assert s["swaps"] == 2 and s["swap_checks"] == 4 and s["swap_rate_pct"] == 50.0, s
    assert s["per_keypoint"]["tailbase"]["n"] == 1 and s["per_keypoint"]["tailbase"]["rmse"] == 40.0
    s2 = score({"a.png": preds["a.png"]}, truth, names, pairs, miss=800.0)  # b.png missing entirely
    assert s2["missing"] == 4 and s2["n"] == 7 and s2["over30_pct"] > 50
    mirror = ["paw1LH_top", "paw2LF_top", "paw3RF_top", "paw4RH_top", "nose_top", "paw1LH_bot", "paw4RH_bot"]
    assert swap_pairs(mirror, {}) == [(0, 3), (1, 2), (5, 6)], swap_pairs(mirror, {})
    # multi-animal: two animals predicted in the other order -> matched, zero error
    mtruth = {"m.png": [[[10.0, 10.0], [5.0, 15.0]], [[100.0, 100.0], None]]}
    mres = [
        {"file_name": "m.png", "score": 0.9, "keypoints": [100, 100, 1, 50, 50, 1]},
        {"file_name": "m.png", "score": 0.8, "keypoints": [10, 10, 1, 5, 15, 1]},
    ]
    (tmp / "multi.json").write_text(json.dumps(mres))
    ms = score(load_ours(tmp / "multi.json", 2, multi=True), mtruth, ["a", "b"], [], miss=800.0)
    assert ms["n"] == 3 and ms["rmse"] == 0.0, ms
    assert max_time(10) == "00:00:10:00" and max_time(0.5) == "00:00:00:30" and max_time(90) == "00:01:30:00"
    cmd = train_command(Path("/p/my proj"), 10, Path("/w/logs"), ["trainer.max_epochs=-1"])
    assert cmd[-6:] == [
        "dataset=dlc",
        "dataset.root='/p/my proj'",
        "backbone=resnet18",
        "trainer.max_time=00:00:10:00",
        "paths.log_dir=/w/logs",
        "trainer.max_epochs=-1",
    ], cmd
    cmd = predict_command(Path("/w/ck/epoch_003.ckpt"), Path("/h/frames"), Path("/w/pred"), Path("/w/logs"))
    assert cmd[-4:] == [
        "ckpt_path=/w/ck/epoch_003.ckpt",
        "input=/h/frames",
        "output=/w/pred",
        "paths.log_dir=/w/logs",
    ], cmd
    ck = tmp / "logs" / "train" / "runs" / "2026-01-01_00-00-00" / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    (ck / "last.ckpt").write_text("x")
    assert find_checkpoint(tmp / "logs", "best") == ck / "last.ckpt"
    (ck / "epoch_002.ckpt").write_text("x")
    assert find_checkpoint(tmp / "logs", "best") == ck / "epoch_002.ckpt"
    assert find_checkpoint(tmp / "logs", "last") == ck / "last.ckpt"
    acc = acceptance(dict(rmse=4.0, over30_pct=1.0), dict(rmse=9.0))
    assert acc["met"] is True and not acceptance(dict(rmse=5.0, over30_pct=1.0), dict(rmse=9.0))["met"]
    shutil.rmtree(tmp, ignore_errors=True)
    print("dlc.py self-check: ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="training wall-clock budget per side")
    ap.add_argument("--kind", default="openfield", choices=["openfield", "mirror", "multi"])
    ap.add_argument("--frames", type=int, default=None, help="labelled frames of the stand-in")
    ap.add_argument("--heldout-count", type=int, default=None, help="held-out frames of the stand-in")
    ap.add_argument("--seed", type=int, default=0, help="stand-in seed")
    ap.add_argument("--project", type=Path, default=None, help="an existing DLC project instead of a stand-in")
    ap.add_argument("--heldout", type=Path, default=None, help="held-out folder (default: PROJECT_heldout)")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default /tmp/lit_heatmap_dlc_<kind>)")
    ap.add_argument("--skip-ours", action="store_true")
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--ours-args", default="", help="extra lit-heatmap-train overrides (one string)")
    ap.add_argument("--plain-args", default="", help="extra plain_baseline.py arguments (one string)")
    ap.add_argument(
        "--max-time-prefix",
        default="",
        choices=["", "+", "++"],
        help="'++' if the trainer config has no max_time key (the acceptance uses none)",
    )
    ap.add_argument("--ckpt", default="best", choices=["best", "last"], help="which of our checkpoints predicts")
    ap.add_argument("--ours-results", type=Path, default=None, help="score this results.json as ours (no training)")
    ap.add_argument("--plain-predictions", type=Path, default=None, help="score this predictions.json as plain")
    ap.add_argument("--dlc3", action="store_true", help="also DeepLabCut 3 (PyTorch engine) from --dlc3-python")
    ap.add_argument(
        "--dlc3-python",
        default=os.environ.get("DLC3_PYTHON"),
        help="python of a venv with deeplabcut>=3 installed (default: $DLC3_PYTHON)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    ap.add_argument("--self-check", action="store_true", help="check the scoring on fake results and exit")
    ap.add_argument("--dlc3-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--stage", default="", help=argparse.SUPPRESS)
    ap.add_argument("--heldout-frames", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.self_check:
        self_check()
        return
    if args.dlc3_worker:
        dlc3_worker(args.project, args.heldout_frames, args.work, args.minutes, args.stage)
        return

    work = (args.work or Path(f"/tmp/lit_heatmap_dlc_{args.kind}")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.project is None:
        sys.path.insert(0, str(HERE))
        from lab_standins import make_project

        make_project(work / "project", args.kind, args.frames, args.heldout_count, args.seed)
        project, heldout = work / "project", work / "project_heldout"
    else:
        project = args.project.resolve()
        heldout = (args.heldout or Path(str(project) + "_heldout")).resolve()
    frames = heldout / "frames"
    truth, meta = load_truth(heldout)
    import yaml

    cfg = yaml.safe_load((project / "config.yaml").read_text())
    names = meta.get("bodyparts") or cfg["multianimalbodyparts" if cfg.get("multianimalproject") else "bodyparts"]
    multi = is_multi(truth)
    pairs = swap_pairs(names, meta)
    miss = frame_diagonal(meta, frames)
    report: dict[str, Any] = dict(
        kind=meta.get("kind", cfg.get("Task")),
        project=str(project),
        heldout=str(heldout),
        minutes=args.minutes,
        keypoints=names,
        heldout_frames=len(truth),
        multi=multi,
        swap_pairs=[[names[a], names[b]] for a, b in pairs],
        sides={},
    )
    sides = report["sides"]
    if args.ours_results:
        sides["ours"] = dict(predictions=load_ours(args.ours_results, len(names), multi))
    elif not args.skip_ours:
        sides["ours"] = run_ours(
            project,
            frames,
            work,
            args.minutes,
            shlex.split(args.ours_args),
            args.ckpt,
            names,
            multi,
            args.max_time_prefix,
        )
    if args.plain_predictions:
        sides["plain"] = dict(predictions=json.loads(args.plain_predictions.read_text()))
    elif not args.skip_plain:
        if multi:
            sides["plain"] = dict(error="the plain script is single-animal only")
        else:
            sides["plain"] = run_plain(project, frames, work, args.minutes, shlex.split(args.plain_args))
    if args.dlc3:
        if not args.dlc3_python:
            raise SystemExit("--dlc3 needs --dlc3-python (or $DLC3_PYTHON): the python of a venv with deeplabcut>=3")
        sides["dlc3"] = run_dlc3(args.dlc3_python, project, frames, work, args.minutes)
    for r in sides.values():
        if "predictions" in r:
            r["score"] = score(r.pop("predictions"), truth, names, pairs, miss)
    report["acceptance"] = acceptance(sides.get("ours", {}).get("score"), sides.get("plain", {}).get("score"))
    (work / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report) if args.json else markdown(report))


if __name__ == "__main__":
    main()
