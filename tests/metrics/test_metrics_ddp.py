"""DDP correctness: metrics over data split across 2 CPU processes (Lightning strategy="ddp", gloo)
equal the single-process result on all the data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ddp_two_processes_equal_single_process(tmp_path: Path) -> None:
    from tests.metrics.metrics_ddp_script import (
        build_items,
        feed,
        make_metrics,
        results,
    )

    out = tmp_path / "ddp.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.metrics.metrics_ddp_script", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp.pop("world_size") == 2
    items = build_items()
    assert 0 < ddp.pop("seen_on_this_rank") < len(items)  # rank 0 saw only part of the data

    metrics = make_metrics()
    for item in items:
        feed(metrics, item)
    single = results(metrics)
    assert set(ddp) == set(single)
    for key in ("PCK", "NME/NME", "AP/AP", "AP/AR", "EPE", "OKS"):
        assert key in single
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, abs=1e-9, nan_ok=True), key
