"""Sweeps from an empty directory: W&B groups and names per job, summary.csv, the parallel local launcher,
GPU slots, and W&B names of single runs."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from lit_heatmap.utils.sweep import acquire_device
from tests.app.app_helpers import TINY_DATA, cli, cli_env
from tests.app.wandb_records import run_record

BUDGET = [
    *TINY_DATA,
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_val_batches=1",
    "++trainer.enable_progress_bar=false",
    "extras.print_config=false",
]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [cli("lit-heatmap-train"), *args, *BUDGET], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600
    )


def wandb_record(job_dir: Path) -> dict:
    (log,) = job_dir.glob("wandb/offline-run-*/run-*.wandb")
    return run_record(log)


@pytest.mark.slow
def test_grid_sweep_one_wandb_experiment_and_summary(tmp_path: Path) -> None:
    """The README's grid with logger=wandb: 4 jobs with checkpoints, one W&B group named after the sweep
    folder, each run named after its overrides with its config; summary.csv holds each job's best PCK (the
    value its best checkpoint stored)."""
    res = run(["-m", "encoding=heatmap2d,udp", "decoder=dark,marginal", "logger=wandb"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    summary = pd.read_csv(sweep / "summary.csv")
    assert list(summary["job"]) == [0, 1, 2, 3] and (summary["status"] == "ok").all()
    for _, row in summary.iterrows():
        job = sweep / str(row["job"])
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        swept = [o for o in overrides if o.startswith(("encoding=", "decoder="))]
        assert row["overrides"] == ",".join(swept) and row["metric"] == "val/PCK@0.05"
        ckpt = torch.load(row["best_checkpoint"], map_location="cpu", weights_only=True)
        assert (
            Path(row["best_checkpoint"]).parent == job / "checkpoints" and (job / "checkpoints" / "last.ckpt").is_file()
        )
        (state,) = [
            v for k, v in ckpt["callbacks"].items() if k.startswith("ModelCheckpoint") and v["best_model_score"]
        ]
        assert row["value"] == pytest.approx(float(state["best_model_score"]), abs=1e-6)
        record = wandb_record(job)
        assert record["group"] == sweep.name and record["name"] == ",".join(swept)
        job_cfg = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
        # the composed config is logged: the job's encoding mode and decoder class
        assert record["config"]["encoding"]["mode"] == job_cfg["encoding"]["mode"]
        assert record["config"]["decoder"]["_target_"] == job_cfg["decoder"]["_target_"]
    assert "sweep summary (higher is better)" in res.stdout


@pytest.mark.slow
def test_local_launcher_runs_jobs_in_parallel(tmp_path: Path) -> None:
    """hydra/launcher=local: two CPU jobs whose start/end times overlap; the user's W&B group wins."""
    res = run(["-m", "hydra/launcher=local", "seed=1,2", "logger=wandb", "logger.wandb.group=mine"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    jobs = [yaml.safe_load((sweep / str(n) / "job.json").read_text()) for n in (0, 1)]
    assert max(j["started"] for j in jobs) < min(j["ended"] for j in jobs), jobs  # side by side
    assert (sweep / ".submitit").is_dir() and len(pd.read_csv(sweep / "summary.csv")) == 2
    names = {wandb_record(sweep / str(n))["name"] for n in (0, 1)}
    assert names == {"seed=1", "seed=2"}
    assert {wandb_record(sweep / str(n))["group"] for n in (0, 1)} == {"mine"}


@pytest.mark.slow
def test_single_run_wandb_name_is_the_run_folder(tmp_path: Path) -> None:
    """A single run's W&B name is its run folder's name; the user's name and group win."""
    res = run(["logger=wandb"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    record = wandb_record(run_dir)
    assert record["name"] == run_dir.name and record["group"] == "" and record["job_type"] == "train"
    time.sleep(1.1)  # run folders are named to the second
    res = run(["logger=wandb", "logger.wandb.name=mine", "logger.wandb.group=g"], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    (second,) = [p for p in (tmp_path / "logs" / "train" / "runs").iterdir() if p != run_dir]
    record = wandb_record(second)
    assert (record["name"], record["group"]) == ("mine", "g")


def test_acquire_device_one_holder_per_gpu(tmp_path: Path) -> None:
    """Each holder gets a GPU of its own; a third waits until one is released."""
    gpu_a, lock_a = acquire_device(tmp_path, ["0", "1"])
    gpu_b, lock_b = acquire_device(tmp_path, ["0", "1"])
    assert (gpu_a, gpu_b) == ("0", "1")
    threading.Timer(0.3, lock_b.close).start()
    t0 = time.monotonic()
    gpu_c, lock_c = acquire_device(tmp_path, ["0", "1"], poll_s=0.05)
    assert gpu_c == "1" and time.monotonic() - t0 >= 0.25
    lock_a.close()
    lock_c.close()
