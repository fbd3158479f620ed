"""What a run promises, run as users type it (console scripts, cwd = a fresh tmp dir, only budgets added):
the run's log file holds what the console showed, validation images share their metrics' step, and a
user's mistake ends in one line naming the key or path (the traceback goes to the log file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.app.app_helpers import cli, cli_env

BUDGET = [
    "dataset.train_size=32",
    "dataset.val_size=16",
    "dataset.batch_size=8",
    "dataset.num_workers=0",
    "dataset.input_size=[64,64]",
    "trainer.max_epochs=2",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
]


def _run(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = cli_env()
    env.pop("HYDRA_FULL_ERROR", None)  # as users run it
    return subprocess.run([cli(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _run_dirs(cwd: Path, task: str) -> list[Path]:
    return sorted((cwd / "logs" / task / "runs").glob("*"))


def test_log_file_and_image_steps(tmp_path: Path) -> None:
    """train.log holds the summary, Lightning's messages, the final metrics and the best checkpoint; the
    TensorBoard images of each validation are at the step of that validation's scalars."""
    proc = _run("lit-heatmap-train", [*BUDGET, "logger=tensorboard"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = _run_dirs(tmp_path, "train")
    log = (run / "train.log").read_text()
    for text in ("train: 32 instances", "GPU available", "`Trainer.fit` stopped", "final metrics:", "val/PCK@0.05"):
        assert text in log, text
    best = next(line for line in proc.stdout.splitlines() if line.startswith("best checkpoint:"))
    assert best in log and "epoch_00" in best

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    image_steps = [e.step for e in events.Images("val/overlays")]
    scalar_steps = [e.step for e in events.Scalars("val/PCK@0.05")]
    assert scalar_steps and image_steps == scalar_steps  # before: images one step later (2, 4 vs 1, 3)


def _mistake(tmp_path: Path, script: str, args: list[str]) -> tuple[str, Path | None]:
    proc = _run(script, args, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    last = proc.stderr.strip().splitlines()[-3:]
    runs = _run_dirs(tmp_path, script.removeprefix("lit-heatmap-"))
    return "\n".join(last), (runs[-1] if runs else None)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer.max_epochs=abc"], "trainer.max_epochs='abc': expected an integer"),
        (["ckpt_path=/missing/last.ckpt"], "ckpt_path=/missing/last.ckpt: no such file"),
        (["dataset=coco"], "dataset.root is required"),
        (["encoding=heatmap2d", "head=simcc"], "Choose another `head=`"),
    ],
)
def test_train_mistakes_end_in_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    budget = ["dataset.num_workers=0"] if "dataset=coco" in args else BUDGET  # train_size is synthetic's
    last, run = _mistake(tmp_path, "lit-heatmap-train", [*budget, *args])
    assert expected in last and "decoder=argmax" not in last
    assert "dataset.datamodule" not in last
    log = (run / "train.log").read_text()
    assert "Traceback" in log and expected in log
    assert not (run / "checkpoints").exists()  # nothing was set up


def test_log_dir_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    last, _ = _mistake(tmp_path, "lit-heatmap-train", [*BUDGET, f"paths.log_dir={tmp_path}/afile/logs"])
    assert f"paths.log_dir={tmp_path}/afile/logs" in last and "is a file, not a folder" in last


def test_predict_output_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "model.ckpt").write_bytes(b"")
    last, run = _mistake(tmp_path, "lit-heatmap-predict", ["ckpt_path=model.ckpt", "input=.", "output=afile"])
    assert "output=afile" in last and "is a file" in last
    assert "Traceback" in (run / "predict.log").read_text()
