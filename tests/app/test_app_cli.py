"""The console scripts in subprocesses: help from any directory, user config dirs, multirun over
encoding x decoder, an optuna sweep, kill-and-resume, and DDP on 2 CPU processes."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.app.app_helpers import TINY, TINY_HEAD, cli, cli_env


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("script", ["lit-heatmap-train", "lit-heatmap-eval", "lit-heatmap-predict"])
def test_console_scripts_help_from_any_directory(script: str, tmp_path: Path) -> None:
    res = run([cli(script), "--help"], cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "== Configuration groups ==" in res.stdout and "trainer: cpu, ddp, ddp_cpu, default, gpu" in res.stdout
    if script == "lit-heatmap-train":
        assert "encoding: heatmap2d, hybrid, simcc, udp" in res.stdout
        assert "experiment: coco_hrnet_w32_256x192, coco_hrnet_w32_dark, coco_res50_simcc" in res.stdout


def test_python_dash_m_and_user_config_dir(tmp_path: Path) -> None:
    """`python -m lit_heatmap.train` works, and hydra.searchpath adds a user's config folder."""
    user = tmp_path / "my_configs" / "experiment"
    user.mkdir(parents=True)
    (user / "my_recipe.yaml").write_text("# @package _global_\ntrainer:\n  max_epochs: 7\ntags: [mine]\n")
    res = run(
        [
            sys.executable,
            "-m",
            "lit_heatmap.train",
            f"hydra.searchpath=[file://{tmp_path / 'my_configs'}]",
            "experiment=my_recipe",
            "--cfg",
            "job",
        ],
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    assert cfg["trainer"]["max_epochs"] == 7 and cfg["tags"] == ["mine"]


@pytest.mark.slow
def test_multirun_encoding_x_decoder_rejects_bad_pair(tmp_path: Path) -> None:
    """3 valid pairs train; simcc x quarter_offset is rejected before training with both names; the sweep's
    summary.csv lists all 4 jobs and names the failed one (run from an empty directory, default folders)."""
    res = run(
        [
            cli("lit-heatmap-train"),
            "-m",
            "encoding=heatmap2d,simcc",
            "decoder=dark,quarter_offset",
            *TINY,
        ],
        cwd=tmp_path,
        timeout=600,
    )
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert res.returncode != 0
    err = res.stderr + res.stdout
    assert "decoder=quarter_offset" in err and "encoding=simcc" in err and "ConfigCompatibilityError" in err
    jobs = {}
    for n in range(4):
        overrides = yaml.safe_load((sweep / str(n) / ".hydra" / "overrides.yaml").read_text())
        jobs[tuple(o for o in overrides if o.startswith(("encoding=", "decoder=")))] = sweep / str(n)
    for pair in [
        ("encoding=heatmap2d", "decoder=dark"),
        ("encoding=heatmap2d", "decoder=quarter_offset"),
        ("encoding=simcc", "decoder=dark"),
    ]:
        assert (jobs[pair] / "checkpoints" / "last.ckpt").is_file(), pair
        rows = _csv_rows(jobs[pair] / "csv" / "metrics.csv")
        assert any(r.get("val/PCK@0.05") for r in rows), pair
    bad = jobs[("encoding=simcc", "decoder=quarter_offset")]
    assert not (bad / "checkpoints").exists() and not (bad / "csv").exists()
    # the simcc jobs got the simcc head and loss from the encoding's defaults
    job_cfg = yaml.safe_load((jobs[("encoding=simcc", "decoder=dark")] / ".hydra" / "config.yaml").read_text())
    assert job_cfg["head"]["_target_"].endswith("SimCCHead") and job_cfg["loss"]["_target_"].endswith("KLDiscreteLoss")
    # the summary: the 3 good jobs with the best PCK of their metrics.csv and their checkpoint, the bad one failed
    summary = {int(r["job"]): r for r in _csv_rows(sweep / "summary.csv")}
    assert sorted(summary) == [0, 1, 2, 3]
    for pair, job_dir in jobs.items():
        row = summary[int(job_dir.name)]
        assert row["overrides"] == ",".join(pair) and row["metric"] == "val/PCK@0.05"
        if job_dir == bad:
            assert row["status"].startswith("failed: ConfigCompatibilityError: incompatible config choices")
            assert row["value"] == "" and row["best_checkpoint"] == ""
            continue
        best = max(float(r["val/PCK@0.05"]) for r in _csv_rows(job_dir / "csv" / "metrics.csv") if r["val/PCK@0.05"])
        assert row["status"] == "ok" and float(row["value"]) == pytest.approx(best, abs=1e-6)
        assert Path(row["best_checkpoint"]).parent == job_dir / "checkpoints" and Path(row["best_checkpoint"]).is_file()
    assert f"1 of 4 jobs failed:\n  job {bad.name} (encoding=simcc,decoder=quarter_offset): failed:" in res.stderr


@pytest.mark.slow
def test_optuna_sweep_two_trials(tmp_path: Path) -> None:
    res = run(
        [
            cli("lit-heatmap-train"),
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=2",
            *TINY,
            *TINY_HEAD,
            "trainer.max_epochs=2",
        ],
        cwd=tmp_path,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(results["best_params"]) == {"optimizer.lr", "optimizer.weight_decay", "encoding.sigma"}
    # each trial returned its best val/PCK@0.05; the study's best is the larger of the two
    per_trial = []
    for n in range(2):
        rows = _csv_rows(sweep / str(n) / "csv" / "metrics.csv")
        per_trial.append(max(float(r["val/PCK@0.05"]) for r in rows if r.get("val/PCK@0.05")))
    assert results["best_value"] == pytest.approx(max(per_trial), abs=1e-6)
    summary = _csv_rows(sweep / "summary.csv")
    assert [float(r["value"]) for r in summary] == pytest.approx(per_trial, abs=1e-6)
    assert "best parameters: optimizer.lr=" in res.stdout


@pytest.mark.slow
def test_kill_and_resume(tmp_path: Path) -> None:
    """SIGKILL mid-epoch after a timed last.ckpt (written at most every train_time_interval, here the
    budget of 1 s); ckpt_path= resumes at the saved step with the optimizer and scheduler state; the
    killed run's checkpoint and logs stay."""
    common = [
        *TINY,
        *TINY_HEAD,
        "dataset.train_size=200",
        "trainer.max_epochs=2",
        "~trainer.limit_train_batches",
        "trainer.log_every_n_steps=1",
        "callbacks.last_checkpoint.train_time_interval.seconds=1",
    ]
    runs = tmp_path / "logs" / "train" / "runs"
    proc = subprocess.Popen(
        [cli("lit-heatmap-train"), *common],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 300
        step, last = 0, Path("/nonexistent")
        while time.time() < deadline and proc.poll() is None:
            found = list(runs.glob("*/checkpoints/last.ckpt")) if runs.is_dir() else []
            last = found[0] if found else last
            if last.is_file():
                try:
                    step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
                except Exception:  # noqa: BLE001 - being replaced right now
                    step = 0
                if step >= 8:
                    break
            time.sleep(0.5)
        assert proc.poll() is None, "training ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    run1 = last.parents[1]
    killed = torch.load(last, map_location="cpu", weights_only=True)
    s1 = killed["global_step"]
    steps_per_epoch = 200 // 8
    assert 8 <= s1 < 2 * steps_per_epoch
    assert killed["lr_schedulers"][0]["last_epoch"] == s1  # the schedule stepped with every optimizer step
    logged_before = [int(r["step"]) for r in _csv_rows(run1 / "csv" / "metrics.csv") if r.get("train/loss")]
    assert logged_before and max(logged_before) >= s1 - 1  # the logs up to the kill were flushed

    time.sleep(1.1)  # run folders are named to the second
    res = run([cli("lit-heatmap-train"), *common, f"ckpt_path={last}"], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    (run2,) = [p for p in runs.iterdir() if p != run1]
    final = torch.load(run2 / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 2 * steps_per_epoch
    # the optimizer counted the steps before the kill too: its state was restored, not restarted
    adam_steps = {float(s["step"]) for s in final["optimizer_states"][0]["state"].values()}
    assert adam_steps == {float(2 * steps_per_epoch)}
    # warmup + cosine steps once per optimizer step: its count went on from the kill, not from 0
    assert final["lr_schedulers"][0]["last_epoch"] == 2 * steps_per_epoch
    resumed_steps = [int(r["step"]) for r in _csv_rows(run2 / "csv" / "metrics.csv") if r.get("train/loss")]
    assert min(resumed_steps) >= s1
    # nothing of the killed run was lost
    assert last.is_file() and (run1 / "csv" / "metrics.csv").is_file()


@pytest.mark.slow
def test_ddp_cpu_two_processes(tmp_path: Path) -> None:
    res = run([cli("lit-heatmap-train"), "trainer=ddp_cpu", *TINY, *TINY_HEAD], cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    out = res.stdout + res.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    assert out.count("lit-heatmap-train finished") == 1  # printed by rank 0 only
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # 32 samples, batch 8, 2 ranks: 2 batches per rank and epoch, limit_train_batches=2
    assert ckpt["global_step"] == 2
