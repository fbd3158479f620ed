"""Config-level checks and builders: clear errors for incompatible choices, the model from its groups."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import hydra
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

# the groups that together define the model, in the order they are reported
MODEL_GROUPS: tuple[str, ...] = ("backbone", "head", "encoding", "decoder", "loss")


class ConfigCompatibilityError(ValueError):
    """Two or more config choices cannot work together (raised before training starts)."""


def config_choices() -> dict[str, str]:
    """The option chosen in each config group (``{"encoding": "simcc", ...}``).

    Read from Hydra's runtime (``hydra.runtime.choices``) when a Hydra app or a test with
    ``HydraConfig().set_config`` is running; ``{}`` otherwise.
    """
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            choices = HydraConfig.get().runtime.choices
            return {str(k): str(v) for k, v in choices.items() if v is not None}
    except Exception:  # noqa: BLE001 - no Hydra runtime: fall back to class names
        pass
    return {}


def _name(group: str, obj: Any, choices: dict[str, str]) -> str:
    """``group=option`` when the option is known, with the class name for clarity."""
    cls = type(obj).__name__ if obj is not None else "?"
    if group in choices:
        return f"{group}={choices[group]} ({cls})"
    return f"{group}: {cls}"


def check_compatibility(cfg: DictConfig) -> None:
    """Fail fast, before any data is read, when the decoder cannot read the encoding's output.

    Builds the encoding and the decoder (cheap) and calls ``decoder.check(encoding)``.

    Raises:
        ConfigCompatibilityError: naming both config options (``encoding=simcc``,
            ``decoder=quarter_offset``) and the decoders' own reason.
    """
    choices = config_choices()
    encoding = hydra.utils.instantiate(cfg.encoding)
    decoder = hydra.utils.instantiate(cfg.decoder)
    check = getattr(decoder, "check", None)
    if check is None:
        return
    try:
        check(encoding)
    except ValueError as err:
        raise ConfigCompatibilityError(
            f"incompatible config choices: {_name('decoder', decoder, choices)} cannot decode the "
            f"output of {_name('encoding', encoding, choices)}. {err} "
            f"Choose a decoder that reads this encoding (or another encoding) on the command line, "
            f"e.g. `decoder=argmax`."
        ) from err


def _plain(x: Any) -> Any:
    """Python lists/floats/ints from tuples, numpy or torch values (meta fields)."""
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, Sequence) and not isinstance(x, str):
        return [_plain(v) for v in x]
    return x


def build_metrics(cfg: DictConfig) -> dict[str, Any] | None:
    """``cfg.dataset.metrics`` (``{name: {_target_: Metric}}``) -> ``{name: Metric}``."""
    node = cfg.dataset.get("metrics")
    if not node:
        return None
    return dict(hydra.utils.instantiate(node, _convert_="all"))


def build_model(cfg: DictConfig, meta: Any) -> Any:
    """The LightningModule from ``cfg.model`` completed with the dataset's meta and metrics.

    Args:
        cfg: the composed train config (uses ``cfg.model`` and ``cfg.dataset.metrics``).
        meta: the DataModule's ``DatasetMeta`` (num_keypoints, flip_index, sigmas).

    Raises:
        ConfigCompatibilityError: when the module rejects the combination of its parts (e.g.
            ``head=simcc`` with ``encoding=heatmap2d``), naming the chosen options.
    """
    choices = config_choices()
    model_partial = hydra.utils.instantiate(cfg.model, _partial_=True)
    try:
        return model_partial(
            num_keypoints=int(meta.num_keypoints),
            flip_index=_plain(meta.flip_index),
            sigmas=[float(s) for s in _plain(meta.sigmas)],
            metrics=build_metrics(cfg),
        )
    except (ValueError, TypeError) as err:
        chosen = ", ".join(f"{g}={choices[g]}" for g in MODEL_GROUPS if g in choices)
        where = f" ({chosen})" if chosen else ""
        raise ConfigCompatibilityError(
            f"cannot build the model from the chosen parts{where}: {err}"
        ) from err


@rank_zero_only
def print_config_tree(cfg: DictConfig, resolve: bool = True) -> None:
    """Prints the composed config as YAML (the main groups first)."""
    order = ["dataset", "backbone", "head", "encoding", "decoder", "loss", "optimizer", "scheduler",
             "trainer", "callbacks", "logger", "paths"]  # fmt: skip
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order and k != "hydra"]
    container = {}
    for k in keys:
        node = cfg[k] if k in cfg else None
        try:
            container[k] = OmegaConf.to_container(node, resolve=resolve) if OmegaConf.is_config(node) else node
        except Exception:  # noqa: BLE001 - an unresolvable interpolation: show it unresolved
            container[k] = OmegaConf.to_container(node, resolve=False)
    print(OmegaConf.to_yaml(container), flush=True)


def extras(cfg: DictConfig) -> None:
    """Optional start-of-run utilities driven by ``cfg.extras``: warnings, torch threads, config print."""
    ex = cfg.get("extras")
    if not ex:
        return
    if ex.get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if ex.get("torch_threads"):
        torch.set_num_threads(int(ex.torch_threads))
    if ex.get("print_config"):
        print_config_tree(cfg)
