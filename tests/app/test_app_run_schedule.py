"""The run's schedule of work: the time budget ends the run (final validation and last.ckpt included),
validation cadence on 5-step epochs, the progress bar's epoch text, images/s logged."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
import torch

from lit_heatmap.run_schedule import epoch_text
from tests.app.app_helpers import TINY_DATA, TINY_MODEL, cli, cli_env

QUIET = ["+trainer.enable_progress_bar=false", "extras.print_config=false", "logger=csv", "seed=0"]


def _train(tmp_path: Path, *overrides: str, timeout: float = 600) -> tuple[str, Path]:
    res = subprocess.run(
        [cli("lit-heatmap-train"), *overrides],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = sorted((tmp_path / "logs" / "train" / "runs").iterdir())
    return res.stdout + res.stderr, run


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_epoch_text() -> None:
    assert epoch_text(76, -1, -1, 600.0) == "Epoch 76 · budget 0:10:00"
    assert epoch_text(2, 3, -1, None) == "Epoch 2/2"
    assert epoch_text(7, -1, 500, None) == "Epoch 7 · 500 steps"
    assert epoch_text(7, -1, -1, None) == "Epoch 7"


def test_validation_cadence_on_five_step_epochs(tmp_path: Path) -> None:
    """40 samples / batch 8 = 5 steps per epoch, 6 epochs = 30 steps; val_check_interval=12 steps with
    min_seconds=0: validations after steps 12 and 24 and at the last step (30), not after every epoch;
    last.ckpt holds the last step; images/s is logged."""
    out, run = _train(
        tmp_path,
        *TINY_DATA,
        *TINY_MODEL,
        *QUIET,
        "dataset.train_size=40",
        "trainer.max_epochs=6",
        "trainer.val_check_interval=12",
        "callbacks.run_schedule.min_seconds=0",
        "callbacks.run_schedule.max_cost=1000",  # no stretching by the measured validation time
        "trainer.log_every_n_steps=1",
    )
    val_steps = [int(r["step"]) for r in _rows(run) if r.get("val/loss")]
    assert val_steps == [11, 23, 29]  # Lightning logs the step index before the increment
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 30
    speeds = [float(r["train/images_per_s"]) for r in _rows(run) if r.get("train/images_per_s")]
    assert speeds and all(s > 0 for s in speeds)


@pytest.mark.slow
def test_max_time_ends_the_run_with_a_final_validation(tmp_path: Path) -> None:
    """A 20 s budget on 1000-step epochs: training stops inside the first epoch, says so once, validates once
    at the end, writes last.ckpt, and the cosine schedule reaches eta_min at the last step, not before."""
    out, run = _train(
        tmp_path,
        *TINY_MODEL,
        *QUIET,
        "dataset.train_size=8000",
        "dataset.val_size=64",
        "dataset.batch_size=8",
        "dataset.num_workers=0",
        "dataset.input_size=[64,64]",
        "trainer.max_time=00:00:00:20",
        "trainer.log_every_n_steps=1",
    )
    # said once by us; Lightning's Timer adds its line only if one step overran the whole budget
    assert out.count("Time limit reached:") == 1 and out.count("Time limit reached") <= 2
    assert "min_epochs" not in out
    rows = _rows(run)
    steps = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert 0 < max(steps) < 999  # inside the first epoch
    assert len([r for r in rows if r.get("val/loss")]) == 1
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == max(steps) + 1
    lrs = [float(r["train/lr"]) for r in rows if r.get("train/lr")]
    peak = max(lrs)
    # the schedule is fitted to where training stops: the last step is at the end of the decay, and half-way
    # (by steps; the decay runs by time, so loose bounds) the rate is still a good part of the peak
    assert lrs[-1] < 0.25 * peak
    assert lrs[len(lrs) // 2] > 0.2 * peak, lrs


def test_last_ckpt_is_written_by_time_not_by_steps(make_cfg, monkeypatch, tmp_path: Path) -> None:
    """The default last_checkpoint writes at most every 180 s of training. On a clock that reads 50 s per
    optimizer step, 12 steps (3 epochs of 4, one validation at the end): timed writes after steps 4, 8
    and 12 (200, 400, 600 s), never per step or per epoch, then the final validation's write; the
    last one holds step 12."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import model_checkpoint

    from lit_heatmap.train import train

    trainer_ref: dict[str, object] = {}
    clock = SimpleNamespace(monotonic=lambda: 50.0 * getattr(trainer_ref.get("t"), "global_step", 0))
    monkeypatch.setattr(model_checkpoint, "time", clock)
    saved: list[tuple[str, int]] = []
    original = model_checkpoint.ModelCheckpoint._save_checkpoint

    def spy(self, trainer, filepath: str) -> None:  # noqa: ANN001
        trainer_ref["t"] = trainer
        saved.append((Path(filepath).name, trainer.global_step))
        original(self, trainer, filepath)

    def on_start(self, trainer, pl_module) -> None:  # noqa: ANN001
        trainer_ref["t"] = trainer
        self._last_time_checked = clock.monotonic()

    monkeypatch.setattr(model_checkpoint.ModelCheckpoint, "_save_checkpoint", spy)
    monkeypatch.setattr(model_checkpoint.ModelCheckpoint, "on_train_start", on_start)
    cfg = make_cfg(["trainer.max_epochs=3", "~trainer.limit_train_batches", "~logger"])
    train(cfg)
    last = [step for name, step in saved if name == "last.ckpt"]
    assert last == [4, 8, 12, 12]  # the time trigger thrice, then the run's final validation
