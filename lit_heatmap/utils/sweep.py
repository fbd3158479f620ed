"""Multirun bookkeeping: what a job is called, its result file, the sweep's ``summary.csv``, one GPU per
parallel job.

Two Hydra callbacks (``hydra.callbacks`` in ``conf/hydra/default.yaml``; Hydra calls them in the launcher's
process and in each job's process):

- :class:`SweepSummary` writes ``<sweep dir>/sweep.json`` (the swept keys) at the start,
  ``<job dir>/job.json`` at the end of every job, and ``<sweep dir>/summary.csv`` plus a table sorted by the
  optimised metric at the end of the sweep (and best parameters for Optuna). A failed job makes Hydra's
  sweepers raise before ``on_multirun_end``: the summary is then written at interpreter exit, naming the
  failed jobs, and the sweep still exits non-zero.
- :class:`OneGpuPerJob` pins each job of the parallel local launcher (``hydra/launcher=local``) to a GPU of its
  own: the first free one among ``CUDA_VISIBLE_DEVICES``, held by a file lock for the job's lifetime.
"""

from __future__ import annotations

import atexit
import csv
import fcntl
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

SWEEP_FILE = "sweep.json"
JOB_FILE = "job.json"
RESULT_FILE = "result.json"
SUMMARY_FILE = "summary.csv"
SUMMARY_COLUMNS = ("job", "overrides", "metric", "value", "status", "best_checkpoint", "seconds")


def _key(override: str) -> str:
    """``+trainer.x=1`` -> ``trainer.x``; ``encoding=udp`` -> ``encoding``."""
    return override.split("=", 1)[0].lstrip("+~")


def swept_keys(master: DictConfig) -> list[str]:
    """The keys a sweep varies: the command line's sweep overrides (``encoding=heatmap2d,udp``) and the
    sweeper's ``params`` (Optuna's search space), in that order."""
    task = OmegaConf.to_container(master.hydra.overrides.task, resolve=False) or []
    parsed = OverridesParser.create().parse_overrides(list(task))
    keys = [o.get_key_element().lstrip("+~") for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(master, "hydra.sweeper.params") or {}
    return keys + [str(k) for k in params if str(k) not in keys]


def job_label(hydra_cfg: DictConfig) -> str:
    """A multirun job's name: its overrides of the swept keys (``encoding=udp,decoder=marginal``), from
    ``<sweep dir>/sweep.json``; all its overrides when that file is missing; ``job<N>`` when it has none."""
    overrides = [str(o) for o in hydra_cfg.overrides.task]
    sweep_file = Path(str(hydra_cfg.sweep.dir)) / SWEEP_FILE
    if sweep_file.is_file():
        keys = json.loads(sweep_file.read_text())["swept"]
        by_key = {_key(o): o for o in overrides}
        overrides = [by_key[k] for k in keys if k in by_key]
    return ",".join(overrides) or f"job{hydra_cfg.job.num}"


def run_labels() -> dict[str, str]:
    """``{"name", "group"}`` of this run for experiment trackers: a single run is named after its run
    directory (``<date>_<time>``, no group); a multirun job after its swept overrides, grouped by the sweep
    directory's name. ``{}`` outside a Hydra app."""
    if not HydraConfig.initialized():
        return {}
    hc = HydraConfig.get()
    if str(hc.mode) != "RunMode.MULTIRUN":
        return {"name": Path(str(hc.runtime.output_dir)).name}
    return {"name": job_label(hc), "group": Path(str(hc.sweep.dir)).name}


@rank_zero_only
def save_result(output_dir: str | Path, metrics: dict[str, float], best_checkpoint: str) -> None:
    """Writes ``<output_dir>/result.json``: the final metrics and the best checkpoint of a training run (what
    the sweep summary reads)."""
    clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
    data = {"metrics": clean, "best_checkpoint": best_checkpoint or None}
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / RESULT_FILE).write_text(json.dumps(data, indent=2) + "\n")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def job_record(config: DictConfig, job_return: JobReturn, started: float | None) -> dict[str, Any]:
    """One row of the summary for a finished job (run in the job's process; ``config`` is the job's config,
    its ``hydra`` node included)."""
    hc = config.hydra
    out = Path(str(hc.runtime.output_dir))
    metric = OmegaConf.select(config, "optimized_metric", default=None)
    record: dict[str, Any] = {
        "job": int(hc.job.num),
        "overrides": job_label(hc),
        "metric": metric,
        "value": None,
        "status": "ok",
        "best_checkpoint": None,
        "seconds": round(time.time() - started, 1) if started else None,
        "started": started,
        "ended": time.time(),
    }
    if job_return.status == JobStatus.COMPLETED:
        value = job_return._return_value
        record["value"] = float(value) if isinstance(value, int | float) else None
    else:
        record["status"] = f"failed: {_first_line(job_return._return_value)}"
    result = out / RESULT_FILE
    if result.is_file():
        record["best_checkpoint"] = json.loads(result.read_text()).get("best_checkpoint")
    return record


def collect(sweep_dir: Path) -> list[dict[str, Any]]:
    """The records of every job folder of a sweep, by job number; a job folder without a record (killed,
    or still running) is listed as failed."""
    rows = []
    for job_dir in sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        path = job_dir / JOB_FILE
        if path.is_file():
            rows.append(json.loads(path.read_text()))
        else:
            rows.append({"job": int(job_dir.name), "status": "failed: no result (killed or still running)"})
    return [{c: row.get(c) for c in SUMMARY_COLUMNS} for row in rows]


def write_summary(sweep_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """``<sweep dir>/summary.csv``, one row per job (empty cells for missing values)."""
    path = sweep_dir / SUMMARY_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    os.replace(tmp, path)
    return path


def format_table(rows: list[dict[str, Any]], maximize: bool) -> str:
    """The jobs sorted by their value (best first; failed and missing values last)."""
    ok = [r for r in rows if r["value"] is not None]
    ok.sort(key=lambda r: r["value"], reverse=maximize)
    rest = [r for r in rows if r["value"] is None]
    metric = next((r["metric"] for r in rows if r.get("metric")), "value")
    lines = [f"{'job':>4}  {metric:>14}  {'status':<8}  overrides"]
    for r in ok + rest:
        value = f"{r['value']:.4f}" if r["value"] is not None else "-"
        status = "ok" if r["status"] == "ok" else "failed"
        lines.append(f"{r['job']:>4}  {value:>14}  {status:<8}  {r['overrides'] or ''}")
    return "\n".join(lines)


class SweepSummary(Callback):
    """Hydra callback: per-job records and the sweep's ``summary.csv`` + table (see the module docstring)."""

    def __init__(self) -> None:
        self._started: float | None = None
        self._master: DictConfig | None = None
        self._done = False

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        _write_json(sweep_dir / SWEEP_FILE, {"swept": swept_keys(config)})
        self._master = config
        atexit.register(self._at_exit)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if str(config.hydra.mode) != "RunMode.MULTIRUN":
            return
        out = Path(str(config.hydra.runtime.output_dir))
        _write_json(out / JOB_FILE, job_record(config, job_return, self._started))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._done = True
        self._report(config, finished=True)

    def _at_exit(self) -> None:
        # a failed job made the sweeper raise: on_multirun_end was never called
        if not self._done and self._master is not None:
            self._done = True
            self._report(self._master, finished=False)

    def _report(self, config: DictConfig, finished: bool) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        rows = collect(sweep_dir)
        path = write_summary(sweep_dir, rows)
        direction = OmegaConf.select(config, "hydra.sweeper.direction", default=None)
        if direction is None:
            direction = OmegaConf.select(config, "dataset.monitor_mode", default="max")
        maximize = str(direction).lower() in ("max", "maximize")
        lines = ["", f"sweep summary ({'higher' if maximize else 'lower'} is better): {path}"]
        lines.append(format_table(rows, maximize))
        results = sweep_dir / "optimization_results.yaml"
        if finished and results.is_file():
            best = OmegaConf.load(results)
            lines.append(f"best value: {best.get('best_value')}")
            lines.append("best parameters: " + " ".join(f"{k}={v}" for k, v in best.get("best_params", {}).items()))
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            lines.append(f"{len(failed)} of {len(rows)} jobs failed:")
            lines += [f"  job {r['job']} ({r['overrides'] or '?'}): {r['status']}" for r in failed]
        print("\n".join(lines), file=sys.stderr if failed else sys.stdout, flush=True)


class OneGpuPerJob(Callback):
    """Hydra callback: a job of the parallel local launcher (submitit's local executor, every job a process of
    its own) takes one GPU among ``CUDA_VISIBLE_DEVICES`` to itself before CUDA starts, waiting while all are
    taken. Does nothing for other launchers, or with at most one visible GPU."""

    def __init__(self, poll_s: float = 5.0) -> None:
        self.poll_s = poll_s
        self._lock: Any = None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if os.environ.get("SUBMITIT_EXECUTOR") != "local":
            return
        visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
        if len(visible) <= 1:
            return
        lock_dir = Path(str(config.hydra.sweep.dir)) / ".gpu_locks"
        gpu, self._lock = acquire_device(lock_dir, visible, self.poll_s)
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        print(f"job {config.hydra.job.num}: CUDA_VISIBLE_DEVICES={gpu}", flush=True)


def acquire_device(lock_dir: Path, devices: list[str], poll_s: float = 5.0) -> tuple[str, Any]:
    """The first of ``devices`` whose lock file under ``lock_dir`` is free, and the open, locked file (the lock
    lasts until it is closed or the process ends); waits ``poll_s`` between rounds while all are taken."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for device in devices:
            f = open(lock_dir / f"{device.strip()}.lock", "w")  # noqa: SIM115 - held for the job's lifetime
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            return device.strip(), f
        time.sleep(poll_s)
