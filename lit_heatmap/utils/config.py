"""Config-level helpers of the entry points: the config path, clear errors for incompatible choices, the model
from its groups."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import hydra
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from lit_heatmap.codecs.compat import check_compatible
from lit_heatmap.nodes import build, build_partial, plain, with_input_size

# the config tree is installed as the package `lit_heatmap.conf` (repo folder conf/)
CONFIG_PATH = "pkg://lit_heatmap.conf"

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
    cls = obj.func.__name__ if isinstance(obj, functools.partial) else type(obj).__name__
    if group in choices:
        return f"{group}={choices[group]} ({cls})"
    return f"{group}: {cls}"


def _model_parts(cfg: DictConfig) -> tuple[Any, Any, Any, Any]:
    """Encoding, head constructor, decoder and loss of the config (cheap: no backbone, no data). An
    encoding's unset input size follows the dataset (as HeatmapModule fills it from the dataset's meta):
    ``dataset.input_size`` when the config gives it, else (the size is chosen from the frames) 64x64."""
    encoding = plain(cfg.encoding)
    if any(v is None for k, v in _items(encoding) if k == "input_size"):
        encoding = with_input_size(encoding, cfg.dataset.get("input_size") or (64, 64))
    return build(encoding), build_partial(cfg.head), build(cfg.decoder), build(cfg.loss)


def _items(node: Any) -> list[tuple[str, Any]]:
    """Every (key, value) pair of a nested plain mapping."""
    if not isinstance(node, dict):
        return []
    return [kv for k, v in node.items() for kv in [(k, v), *_items(v)]]


def check_compatibility(cfg: DictConfig) -> None:
    """Fail fast, before any data is read, when the chosen encoding, head, decoder and loss cannot work
    together.

    Raises:
        ConfigCompatibilityError: naming the config options (``encoding=simcc``, ``decoder=quarter_offset``)
            and the parts' own reason.
    """
    choices = config_choices()
    encoding, head, decoder, loss = _model_parts(cfg)
    names = {
        g: _name(g, obj, choices)
        for g, obj in (("encoding", encoding), ("head", head), ("decoder", decoder), ("loss", loss))
    }
    try:
        check_compatible(encoding, head=head, decoder=decoder, loss=loss, names=names)
    except ValueError as err:
        raise ConfigCompatibilityError(
            f"incompatible config choices: {err} {_hint(encoding, head, decoder, loss)}"
        ) from err


def _hint(encoding: Any, head: Any, decoder: Any, loss: Any) -> str:
    """What to change: the groups whose part conflicts with the encoding (each checked alone)."""
    parts = {"head": head, "decoder": decoder, "loss": loss}
    groups = []
    for group, part in parts.items():
        try:
            check_compatible(encoding, **{group: part})
        except ValueError:
            groups.append(group)
    if not groups:
        return "Choose another encoding or other parts on the command line."
    named = " and ".join(f"`{g}=`" for g in groups)
    return f"Choose another {named} that reads this encoding on the command line, or another `encoding=`."


def build_model(cfg: DictConfig, meta: Any) -> Any:
    """The LightningModule of ``cfg.model`` (its parts' nodes) completed with the dataset's meta.

    Raises:
        ConfigCompatibilityError: when the module rejects the combination of its parts (e.g.
            ``head=simcc`` with ``encoding=heatmap2d``), naming the chosen options.
    """
    choices = config_choices()
    try:
        return hydra.utils.instantiate(cfg.model, meta=plain(meta))
    except (ValueError, TypeError) as err:
        chosen = ", ".join(f"{g}={choices[g]}" for g in MODEL_GROUPS if g in choices)
        where = f" ({chosen})" if chosen else ""
        raise ConfigCompatibilityError(f"cannot build the model from the chosen parts{where}: {err}") from err


@rank_zero_only
def print_config_tree(cfg: DictConfig, resolve: bool = True) -> None:
    """Prints the composed config as YAML (the main groups first)."""
    order = [
        "dataset",
        "backbone",
        "head",
        "encoding",
        "decoder",
        "loss",
        "optimizer",
        "scheduler",
        "trainer",
        "callbacks",
        "logger",
        "paths",
    ]
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
