"""lit-heatmap-train in-process: the default run (reduced), fail-fast config errors, loggers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from lit_heatmap.train import metric_for_sweep, train
from lit_heatmap.utils import ConfigCompatibilityError


def _metrics_csv(out: Path) -> list[dict[str, str]]:
    with open(out / "csv" / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_default_run_reduced(make_cfg, tmp_path: Path, capsys) -> None:
    """The default config (synthetic, CPU, the default model) with less data and 2 epochs: it trains,
    validates, checkpoints the best epoch by val/PCK@0.05 and reports what the sweeper optimises."""
    cfg = make_cfg(["trainer.max_epochs=2"], tiny=False, out=tmp_path)
    # shrink data and steps only; keep the default model, codec and callbacks
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.dataset.train_size, cfg.dataset.val_size, cfg.dataset.num_workers = 32, 16, 0
        cfg.trainer.limit_train_batches, cfg.trainer.enable_progress_bar = 2, False
        cfg.extras.print_config = False
        # validate every step (= each 1-batch epoch), not stretched by time (the default cadence's knobs)
        cfg.trainer.val_check_interval = 1
        cfg.callbacks.run_schedule.min_seconds, cfg.callbacks.run_schedule.max_cost = 0, 1000
    metrics, objects = train(cfg)

    assert cfg.dataset.monitor == "val/PCK@0.05" and cfg.optimized_metric == "val/PCK@0.05"
    rows = _metrics_csv(tmp_path)
    per_epoch = [float(r["val/PCK@0.05"]) for r in rows if r.get("val/PCK@0.05")]
    assert len(per_epoch) == 2 and all(0.0 <= v <= 1.0 for v in per_epoch)
    # the sweeper gets the best epoch, which is what the best checkpoint holds
    assert metric_for_sweep(cfg, metrics) == pytest.approx(max(per_epoch), abs=1e-6)
    best = Path(objects["best_model_path"])
    assert best.is_file() and best.parent == tmp_path / "checkpoints"
    ckpt = torch.load(best, map_location="cpu", weights_only=True)  # plain data: no code is unpickled
    assert ckpt["epoch"] == per_epoch.index(max(per_epoch))
    meta = ckpt["hyper_parameters"]["meta"]
    assert meta["name"] == "synthetic" and len(meta["skeleton"]) > 0 and meta["input_size"] == [128, 128]
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    out = capsys.readouterr().out
    assert f"best checkpoint: {best}" in out and f"run directory:   {tmp_path}" in out
    assert "val/PCK@0.05" in out


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        (["encoding=simcc", "decoder=quarter_offset"], ["decoder=quarter_offset", "encoding=simcc"]),
        (["encoding=heatmap2d", "head=simcc"], ["head=simcc", "encoding=heatmap2d"]),
        (["encoding=simcc", "loss=mse"], ["loss=mse", "encoding=simcc"]),
    ],
)
def test_incompatible_choices_fail_before_training(make_cfg, tmp_path: Path, overrides, names) -> None:
    cfg = make_cfg(overrides)
    with pytest.raises(ConfigCompatibilityError) as err:
        train(cfg)
    for name in names:
        assert name in str(err.value)
    # nothing was trained or written
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "csv").exists()


def test_encoding_switches_head_and_loss_defaults(make_cfg) -> None:
    """encoding=simcc alone is a working model (head=simcc, loss=kl); explicit choices still win."""
    cfg = make_cfg(["encoding=simcc"])
    assert cfg.head._target_.endswith("SimCCHead") and cfg.loss._target_.endswith("KLDiscreteLoss")
    cfg = make_cfg(["encoding=simcc", "loss=soft_argmax"])
    assert cfg.loss._target_.endswith("SoftArgmaxLoss")


@pytest.mark.parametrize("logger", ["tensorboard", "none"])
def test_other_loggers(make_cfg, tmp_path: Path, logger: str) -> None:
    cfg = make_cfg([f"logger={logger}"])
    metrics, _ = train(cfg)
    assert "val/PCK@0.05" in metrics
    events = list(tmp_path.rglob("events.out.tfevents.*"))
    if logger == "tensorboard":
        assert events, "no TensorBoard event file"
        # the image callback wrote its panels as TensorBoard images
        from tensorboard.backend.event_processing.event_accumulator import (
            EventAccumulator,
        )

        acc = EventAccumulator(str(events[0].parent), size_guidance={"images": 0})
        acc.Reload()
        assert {"val/overlays", "val/heatmaps"} <= set(acc.Tags()["images"])
    else:
        assert not events and not (tmp_path / "csv").exists()
