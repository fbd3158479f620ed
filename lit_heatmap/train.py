"""``lit-heatmap-train``: train a heatmap keypoint model from the Hydra config tree.

Usage (any directory)::

    lit-heatmap-train                                   # synthetic data, CPU, ~5 minutes
    lit-heatmap-train encoding=simcc head=simcc decoder=argmax loss=kl
    lit-heatmap-train dataset=coco dataset.root=/data/coco trainer=gpu
    lit-heatmap-train ckpt_path=logs/train/runs/<date>/checkpoints/last.ckpt   # resume
    lit-heatmap-train -m hparams_search=optuna                                  # sweep
    python -m lit_heatmap.train --help

``main`` returns the value of ``optimized_metric`` (the dataset's monitored metric, best value
of the run), so Hydra sweepers (optuna) can optimise it.
"""

from __future__ import annotations

import os
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from lit_heatmap import utils
from lit_heatmap.data.splits import write_split


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Builds data, model, callbacks, loggers and trainer from ``cfg`` and fits (and tests).

    Args:
        cfg: the composed config of ``conf/train.yaml``.

    Returns:
        ``(metrics, objects)``: the final logged metrics (floats; plus ``<monitor>/best``) and the
        built objects (``cfg``, ``datamodule``, ``model``, ``trainer``, ...).

    Raises:
        ConfigCompatibilityError: incompatible choices (e.g. ``encoding=simcc decoder=quarter_offset``),
            before any data is read.
    """
    try:
        # fail fast: codecs first (cheap), then the model (no data read yet)
        utils.check_compatibility(cfg)
        if cfg.get("seed") is not None:
            L.seed_everything(cfg.seed, workers=True)

        datamodule = hydra.utils.instantiate(cfg.dataset.datamodule)
        meta = datamodule.meta
        model = utils.build_model(cfg, meta)
        utils.attach_ground_truth(model, datamodule, ("val", "test") if cfg.get("test") else ("val",))
        _print_summary(datamodule)
        _write_split(datamodule, cfg.paths.output_dir)

        callbacks = utils.instantiate_callbacks(cfg.get("callbacks"))
        loggers = utils.instantiate_loggers(cfg.get("logger"))
        trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
        objects = {
            "cfg": cfg,
            "datamodule": datamodule,
            "model": model,
            "callbacks": callbacks,
            "loggers": loggers,
            "trainer": trainer,
            "meta": meta,
        }
        utils.log_hyperparameters(cfg, loggers, model)

        if cfg.get("train", True):
            trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}

        ckpt_cb = trainer.checkpoint_callback
        best_path = getattr(ckpt_cb, "best_model_path", "") or ""
        best_score = getattr(ckpt_cb, "best_model_score", None)
        if best_score is not None and getattr(ckpt_cb, "monitor", None):
            metrics[f"{ckpt_cb.monitor}/best"] = float(best_score)

        if cfg.get("test"):
            trainer.test(model=model, datamodule=datamodule, ckpt_path=best_path or None)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})

        objects["best_model_path"] = best_path
        _report(cfg, metrics, best_path)
        # <run dir>/result.json: what the sweep summary reads (lit_heatmap/utils/sweep.py)
        utils.save_result(cfg.paths.output_dir, metrics, best_path)
        return metrics, objects
    finally:
        # multirun: every job gets its own W&B run
        utils.close_loggers()


@rank_zero_only
def _print_summary(datamodule: L.LightningDataModule) -> None:
    """The dataset as the run sees it: K, names, flip pairs or "flip off", frames per split, input size, skips."""
    print(datamodule.summary(), flush=True)


@rank_zero_only
def _write_split(datamodule: L.LightningDataModule, run_dir: str) -> None:
    """``<run dir>/split.json``: the train and val image files (``lit-heatmap-eval`` can reuse the split)."""
    write_split(datamodule, run_dir)


@rank_zero_only
def _report(cfg: DictConfig, metrics: dict[str, float], best_path: str) -> None:
    """Prints the final metrics, the best checkpoint and the run directory."""
    lines = ["", "=" * 72, "lit-heatmap-train finished", "final metrics:"]
    lines += [f"  {k:<28s} {v:.4f}" for k, v in sorted(metrics.items())]
    lines.append(f"best checkpoint: {best_path or '(none saved)'}")
    lines.append(f"run directory:   {cfg.paths.output_dir}")
    lines.append("=" * 72)
    print("\n".join(lines), flush=True)


def metric_for_sweep(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The value a sweeper optimises: the best value of ``optimized_metric`` when the checkpoint
    callback monitored it, else its last logged value."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if f"{name}/best" in metrics:
        return metrics[f"{name}/best"]
    if name not in metrics and not _is_multirun():
        # e.g. fast_dev_run or train=false: nothing to optimise, nothing to fail
        print(f"optimized_metric={name!r} was not logged in this run", flush=True)
        return None
    return utils.get_metric_value(metrics, name)


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    return str(HydraConfig.get().mode) == "RunMode.MULTIRUN"


@hydra.main(version_base="1.3", config_path=utils.CONFIG_PATH, config_name="train")
@utils.entry_point("train")
def main(cfg: DictConfig) -> float | None:
    """Console script ``lit-heatmap-train``; returns the optimised metric (for sweepers)."""
    utils.extras(cfg)
    metrics, _ = train(cfg)
    return metric_for_sweep(cfg, metrics)


if __name__ == "__main__":
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    main()
