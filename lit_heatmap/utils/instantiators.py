"""Build Lightning callbacks and loggers from their config groups (each entry has a ``_target_``)."""

from __future__ import annotations

import hydra
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig


def _instantiate_group(cfg: DictConfig | None, group: str) -> list:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise TypeError(f"config `{group}` must be a mapping of name -> {{_target_: ...}}, got {type(cfg).__name__}")
    out = []
    for name, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            out.append(hydra.utils.instantiate(node))
        elif node is not None:
            raise TypeError(f"config `{group}.{name}` has no `_target_`: {node}")
    return out


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    """Callbacks from ``cfg.callbacks`` (``{name: {_target_: ...}}``); ``None`` or ``{}`` gives ``[]``."""
    return _instantiate_group(cfg, "callbacks")


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Loggers from ``cfg.logger`` (``{name: {_target_: ...}}``); ``logger=none`` gives ``[]``."""
    return _instantiate_group(cfg, "logger")
