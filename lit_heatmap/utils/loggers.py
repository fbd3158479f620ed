"""What goes to the loggers and comes back: hyper-parameter logging, the logged metric a sweep optimises,
closing W&B at the end of a run."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf


def _float(v: Any) -> float:
    return float(v.item()) if hasattr(v, "item") else float(v)


def get_metric_value(metrics: dict[str, Any], name: str | None) -> float | None:
    """The value of ``name`` in ``metrics`` as a float (what a Hydra sweeper optimises).

    Raises:
        KeyError: when ``name`` was not logged, listing the metrics that were.
    """
    if not name:
        return None
    if name not in metrics:
        raise KeyError(
            f"optimized_metric={name!r} was not logged; logged metrics: {sorted(metrics)}. "
            f"Set `optimized_metric=` to one of them."
        )
    return _float(metrics[name])


@rank_zero_only
def log_hyperparameters(cfg: DictConfig, loggers: list[Logger], model: Any = None) -> None:
    """Sends the resolved config (and the parameter counts) to every logger."""
    if not loggers:
        return
    hparams = OmegaConf.to_container(cfg, resolve=True)
    hparams.pop("hydra", None)
    if model is not None:
        hparams["model/params/total"] = sum(p.numel() for p in model.parameters())
        hparams["model/params/trainable"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for logger in loggers:
        logger.log_hyperparams(hparams)


def close_loggers() -> None:
    """Closes the W&B run, if any, so the next multirun job starts a fresh one."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a dependency
        return
    if wandb.run is not None:
        wandb.finish()
