"""The README's commands, run as written.

Every line of every ```bash block of README.md is a command (``\\`` continuations joined, comments
dropped). Each one is either

- listed in ``NOT_RUN`` with the reason it cannot run here (data we do not have, GPUs, SLURM, an
  account, the install itself), or
- run by ``run_readme``: a console script of this package (``lit-heatmap-*``, ``python -m lit_heatmap.*``,
  optionally after ``VAR=value`` assignments), exactly as written, through ``bash``, with only a tiny budget
  appended (``BUDGET``: data sizes, epochs, batch limits, trials) and ``WANDB_MODE=offline`` in the
  environment, in one fresh temporary directory as the working directory.

A command that is neither fails ``test_every_readme_command_is_run_or_listed`` (fast): add it to
``NOT_RUN`` with a reason, or make it runnable. A command that runs and exits non-zero fails
``test_readme_commands_run_as_written`` (slow), with its output.

Placeholders. The commands refer to things a user has: a checkpoint, images, a detections file. The test
makes them in the working directory under the README's own names, from one training run it makes first
(``lit-heatmap-train`` with the budget: the README's default run), so most commands need no change at
all. ``ARTEFACTS`` lists what is made; ``SUBSTITUTE`` the few placeholders that are replaced in the text:

=========================================  ==============================================================
README text                                what the test puts there
=========================================  ==============================================================
``logs/train/runs/<run>/``                 the first training run's folder (``<run>`` -> its name)
``ckpt_path=...``                          ``ckpt_path=best.ckpt`` (the first run's best checkpoint)
``file:///abs/path/my_configs``            ``file://<cwd>/my_configs`` (holds ``experiment/my_recipe.yaml``)
``best.ckpt`` (file)                       a copy of the first run's best checkpoint
``photo.jpg``, ``images/`` (files)         synthetic pictures
``detections.json`` (file)                 COCO detection results for ``images/`` (one weak box)
``model.onnx`` (file)                      made by the README's own export command (run before its users)
``videos/session1.mp4`` (file)             a 6-frame synthetic video
=========================================  ==============================================================

To add a command to the README: if it runs on a CPU with the synthetic data, nothing to do (give new
placeholder files a maker in ``ARTEFACTS`` or a line in ``SUBSTITUTE``; a command that reads the output
of another README command goes into ``LATER``); otherwise add a ``NOT_RUN`` pattern with the reason.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from tests.app.app_helpers import VENV_BIN, cli, cli_env

README = Path(__file__).resolve().parents[2] / "README.md"

# (pattern searched in the command, reason): commands that cannot run in the test, first match wins
NOT_RUN: list[tuple[str, str]] = [
    (r"python3 -m venv|pip install", "installs the package (the test runs the installed console scripts)"),
    (r"^bash \.ci/run", "CI itself: creates a venv and runs the whole suite, this test included"),
    (r"pytest", "the test suite itself"),
    (r"^(python3?|bash) benchmarks/", "a benchmark (minutes to hours; run by hand, its table is in the README)"),
    (r"^wandb login", "needs a W&B account (the W&B commands run offline)"),
    (r"hydra/launcher=slurm", "needs a SLURM cluster"),
    (r"MASTER_ADDR=", "multi-node: needs several machines"),
    (r"dataset=coco\b", "needs the COCO data set (dataset.root=/data/coco)"),
    (r"dataset=wflw\b", "needs the WFLW data set (dataset.root=/data/wflw)"),
    (r"dataset=coco_format\b", "needs the user's own COCO-format annotation files and images"),
    (r"dataset=dlc\b", "needs a DeepLabCut / lightning-pose project folder"),
    (r"experiment=(coco|wflw)_", "a COCO / WFLW recipe: needs that data set"),
    (r"trainer=ddp\s.*trainer\.devices=[2-9]", "needs several GPUs"),
    (r"trainer=gpu|trainer\.accelerator=gpu|gpus_per_node=[1-9]", "needs a GPU"),
]

# what is appended to a command of each program: a tiny budget and nothing else
TRAIN_BUDGET = [
    "dataset.train_size=32",
    "dataset.val_size=16",
    "dataset.batch_size=8",
    "dataset.num_workers=0",
    "dataset.input_size=[64,64]",
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_val_batches=1",
    "++trainer.enable_progress_bar=false",
]
BUDGET: dict[str, list[str]] = {
    "lit-heatmap-train": TRAIN_BUDGET,
    "lit_heatmap.train": TRAIN_BUDGET,
    "lit-heatmap-eval": ["dataset.val_size=16", "dataset.batch_size=8", "dataset.num_workers=0"],
    "lit_heatmap.eval": ["dataset.val_size=16", "dataset.batch_size=8", "dataset.num_workers=0"],
}
# (pattern, extra budget) for commands that need more than their program's budget
EXTRA_BUDGET: list[tuple[str, list[str]]] = [
    (r"hparams_search=optuna", ["hydra.sweeper.n_trials=2"]),
    (r"ckpt_path=\S*last\.ckpt", ["trainer.max_epochs=2"]),  # resume the first run for one more epoch
]
# placeholders replaced in the command text (regex -> replacement; `{run}` is the first run's folder name,
# `{cwd}` the working directory)
SUBSTITUTE: list[tuple[str, str]] = [
    (r"<run>", "{run}"),
    (r"ckpt_path=\.\.\.", "ckpt_path=best.ckpt"),
    (r"file:///abs/path/my_configs", "file://{cwd}/my_configs"),
]
# commands that read what another README command writes: run after all the others
LATER = [r"model=model\.onnx", r"model=model\.pt\b"]
# the programs the test runs (after optional VAR=value assignments)
RUNNABLE = re.compile(r"^(\w+=\S*\s+)*(lit-heatmap-\w+|python3? -m lit_heatmap\.\w+)(\s|$)")


def readme_commands(text: str) -> list[str]:
    """The commands of the README's ```bash blocks: continuation lines joined, comments and blank lines
    dropped, each normalised to single spaces (``shlex``)."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            if tokens:
                commands.append(shlex.join(tokens))
    return commands


def reason_not_run(command: str) -> str | None:
    return next((why for pattern, why in NOT_RUN if re.search(pattern, command)), None)


def classify(commands: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """``(run, not_run {command: reason}, unknown)``."""
    run, not_run, unknown = [], {}, []
    for c in dict.fromkeys(commands):  # a command shown twice runs once
        why = reason_not_run(c)
        if why:
            not_run[c] = why
        elif RUNNABLE.match(c):
            run.append(c)
        else:
            unknown.append(c)
    return run, not_run, unknown


def with_budget(command: str, cwd: Path, run_name: str) -> str:
    """The command as it is run: placeholders substituted, the budget of its program appended."""
    for pattern, repl in SUBSTITUTE:
        command = re.sub(pattern, repl.format(run=run_name, cwd=cwd), command)
    program = RUNNABLE.match(command).group(2).split()[-1]
    extra = list(BUDGET.get(program, []))
    for pattern, more in EXTRA_BUDGET:
        if re.search(pattern, command):
            extra += more
    return " ".join([command, *map(shlex.quote, extra)])


def _image(path: Path, seed: int, size: tuple[int, int] = (96, 128)) -> None:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (*size, 3), dtype=np.uint8), (7, 7), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img), path


def _images(cwd: Path) -> None:
    _image(cwd / "images" / "a.jpg", 1)
    _image(cwd / "images" / "b.png", 2)


def _detections(cwd: Path) -> None:
    dets = [
        {"file_name": "a.jpg", "bbox": [10.0, 5.0, 60.0, 80.0], "score": 0.9},
        {"file_name": "b.png", "bbox": [0.0, 0.0, 128.0, 96.0], "score": 0.8},
        {"file_name": "b.png", "bbox": [30.0, 20.0, 40.0, 40.0], "score": 0.1},  # under box_score_threshold
    ]
    (cwd / "detections.json").write_text(json.dumps(dets))


def _videos(cwd: Path) -> None:
    (cwd / "videos").mkdir()
    writer = cv2.VideoWriter(str(cwd / "videos" / "session1.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 96))
    rng = np.random.default_rng(3)
    for _ in range(6):
        writer.write(cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (7, 7), 0))
    writer.release()


def _my_configs(cwd: Path) -> None:
    recipe = cwd / "my_configs" / "experiment" / "my_recipe.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text("# @package _global_\ntags: [my_recipe]\n")


# files the commands expect to exist, made in the working directory before they run (name -> maker)
ARTEFACTS: dict[str, Callable[[Path], None]] = {
    "photo.jpg": lambda cwd: _image(cwd / "photo.jpg", 0),
    "images/": _images,
    "detections.json": _detections,
    "videos/": _videos,  # videos/session1.mp4, 6 frames
    "my_configs/": _my_configs,
}


def _run(command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    env = cli_env()
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def prepare(cwd: Path) -> str:
    """The first training run (the README's default command with the budget), ``best.ckpt`` and the
    ``ARTEFACTS``; returns the run's folder name."""
    res = _run(with_budget("lit-heatmap-train", cwd, ""), cwd, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    (run_dir,) = (cwd / "logs" / "train" / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    shutil.copy(result["best_checkpoint"], cwd / "best.ckpt")
    for make in ARTEFACTS.values():
        make(cwd)
    return run_dir.name


def run_readme(commands: list[str], cwd: Path, run_name: str, workers: int = 2) -> dict[str, str]:
    """Runs the commands (``LATER`` ones last), ``workers`` at a time, their starts at least 1.2 s apart (run
    folders are named to the second); returns ``{command: output}`` of those that failed."""
    failed: dict[str, str] = {}
    lock, last_start = threading.Lock(), [0.0]

    def one(command: str) -> None:
        with lock:
            time.sleep(max(0.0, last_start[0] + 1.2 - time.monotonic()))
            last_start[0] = time.monotonic()
        full = with_budget(command, cwd, run_name)
        try:
            res = _run(full, cwd, timeout=300)
        except subprocess.TimeoutExpired:
            failed[command] = f"$ {full}\ntimed out"
            return
        if res.returncode != 0:
            failed[command] = f"$ {full}\nexit {res.returncode}\n{res.stdout[-1500:]}\n{res.stderr[-2500:]}"

    later = [c for c in commands if any(re.search(p, c) for p in LATER)]
    for batch in ([c for c in commands if c not in later], later):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, batch))
    return failed


def test_every_readme_command_is_run_or_listed() -> None:
    commands = readme_commands(README.read_text())
    run, not_run, unknown = classify(commands)
    assert not unknown, (
        f"README commands that the README test neither runs nor lists: {unknown}. Add a NOT_RUN pattern with "
        f"the reason in {Path(__file__).name}, or make them runnable."
    )
    # the README's own promises, so that a parser bug cannot make this test pass on nothing
    assert "lit-heatmap-train -m encoding=heatmap2d,udp decoder=dark,marginal" in run
    assert any(c.startswith("lit-heatmap-export") for c in run) and any("dataset=coco" in c for c in not_run)


def test_readme_parser_on_a_known_block() -> None:
    text = (
        "x\n```bash\n# a comment\nlit-heatmap-train a=1 \\\n    b=2   # trailing\n\n"
        "WANDB_MODE=offline lit-heatmap-train 'c=[1, 2]'\nwandb login\n```\n```\nnot bash\n```\n"
    )
    commands = readme_commands(text)
    assert commands == ["lit-heatmap-train a=1 b=2", "WANDB_MODE=offline lit-heatmap-train 'c=[1, 2]'", "wandb login"]
    run, not_run, unknown = classify(commands + ["tensorboard --logdir logs/"])
    assert run == commands[:2] and list(not_run) == ["wandb login"] and unknown == ["tensorboard --logdir logs/"]
    cwd = Path("/tmp/x")
    assert with_budget("lit-heatmap-eval ckpt_path=... flip_test=true", cwd, "r").startswith(
        "lit-heatmap-eval ckpt_path=best.ckpt flip_test=true dataset.val_size=16"
    )
    assert with_budget("lit-heatmap-train ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt", cwd, "R").endswith(
        "ckpt_path=logs/train/runs/R/checkpoints/last.ckpt "
        + " ".join(TRAIN_BUDGET[:4])
        + " 'dataset.input_size=[64,64]' "
        + " ".join(TRAIN_BUDGET[5:])
        + " trainer.max_epochs=2"
    )


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path: Path) -> None:
    """Every runnable README command exits 0 in one fresh directory (about 3 minutes on 2 cores)."""
    cli("lit-heatmap-train")
    run, _, _ = classify(readme_commands(README.read_text()))
    run_name = prepare(tmp_path)
    failed = run_readme(run, tmp_path, run_name)
    assert not failed, "README commands that failed:\n\n" + "\n\n".join(failed.values())
    # a few of the promises around the commands: a summary per sweep (grid: 4 jobs, Optuna: 2 trials), the
    # exported files, the predictions
    sweeps = sorted((tmp_path / "logs" / "train" / "multiruns").glob("*/summary.csv"))
    rows = sorted(len(pd.read_csv(p)) for p in sweeps)
    assert 4 in rows and 2 in rows, rows
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "model.pt").is_file()
    assert len(json.loads((tmp_path / "preds" / "results.json").read_text())) > 0


@pytest.mark.slow
def test_readme_runner_fails_on_a_broken_command(tmp_path: Path) -> None:
    """The runner reports a README command that no longer works (a misspelt option), with its output."""
    cli("lit-heatmap-train")
    broken = "lit-heatmap-train encoding=udpx decoder=dark"
    assert classify([broken])[0] == [broken]
    failed = run_readme([broken], tmp_path, "")
    assert list(failed) == [broken] and "udpx" in failed[broken] and "exit 1" in failed[broken]
