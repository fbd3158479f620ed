"""Build Lightning callbacks and loggers from their config groups (each entry has a ``_target_``)."""

from __future__ import annotations

import hydra
from lightning.pytorch import Callback
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from lit_heatmap.utils.sweep import run_labels


def _instantiate_group(cfg: DictConfig | None, group: str) -> list:
    if not cfg:
        return []
    if not isinstance(cfg, DictConfig):
        raise TypeError(f"config `{group}` must be a mapping of name -> {{_target_: ...}}, got {type(cfg).__name__}")
    out = []
    for name, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            out.append(hydra.utils.instantiate(node, **_run_names(node) if group == "logger" else {}))
        elif node is not None:
            raise TypeError(f"config `{group}.{name}` has no `_target_`: {node}")
    return out


def _run_names(node: DictConfig) -> dict[str, str]:
    """W&B ``name``/``group`` the user left empty: a single run is named after its run directory
    (``<date>_<time>``); a multirun job after its swept overrides (``encoding=udp,decoder=marginal``), in the
    group named after the sweep directory. A name or group given in the config wins."""
    if not str(node.get("_target_")).endswith("WandbLogger"):
        return {}
    return {k: v for k, v in run_labels().items() if not node.get(k)}


def instantiate_callbacks(cfg: DictConfig | None) -> list[Callback]:
    """Callbacks from ``cfg.callbacks`` (``{name: {_target_: ...}}``); ``None`` or ``{}`` gives ``[]``."""
    return _instantiate_group(cfg, "callbacks")


def instantiate_loggers(cfg: DictConfig | None) -> list[Logger]:
    """Loggers from ``cfg.logger`` (``{name: {_target_: ...}}``); ``logger=none`` gives ``[]``. W&B runs get
    their name and group from the run or sweep directory unless the config sets them."""
    return _instantiate_group(cfg, "logger")
