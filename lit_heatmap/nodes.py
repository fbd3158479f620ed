"""Config nodes of every part (encoding, decoder, backbone, head, loss, optimizer, scheduler): what a
checkpoint stores and how the model is rebuilt from it.

A part is described by a Hydra node (``{"_target_": "lit_heatmap.codecs.Heatmap2D", "sigma": 2.0, ...}``).
Checkpoints keep these nodes as plain ``dict``/``list``/``str``/``int``/``float`` data, so they load with
``torch.load(weights_only=True)`` and never unpickle code; the parts are rebuilt with
``hydra.utils.instantiate``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import OmegaConf

__all__ = ["node", "plain", "build", "build_partial", "with_input_size", "without_pretrained"]


def node(target: type | Any, **kwargs: Any) -> dict[str, Any]:
    """The config node of a part: ``node(Heatmap2D, input_size=(128, 128), sigma=2.0)`` ->
    ``{"_target_": "lit_heatmap.codecs.heatmap2d.Heatmap2D", "input_size": [128, 128], "sigma": 2.0}``
    (what ``conf/`` YAML files write, for building a model from Python)."""
    return {"_target_": f"{target.__module__}.{target.__qualname__}", **plain(kwargs)}


def plain(value: Any) -> Any:
    """``value`` as plain Python data (resolved OmegaConf nodes, dataclasses, tuples, paths, numpy and torch
    scalars/arrays become dicts, lists, str, int, float, bool, None).

    Raises:
        TypeError: for a value that has no plain form (e.g. a built object), naming its type.
    """
    if OmegaConf.is_config(value):
        return plain(OmegaConf.to_container(value, resolve=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy / torch values
        return plain(value.tolist())
    raise TypeError(
        f"{type(value).__name__} is not plain data; describe parts by their config "
        "({'_target_': 'package.Class', ...}), not by built objects"
    )


def build(config: Mapping[str, Any], **kwargs: Any) -> Any:
    """Instantiate a part from its node, completed with ``kwargs`` (e.g. a head's ``in_channels``).

    Nodes written as ``_partial_: true`` are completed the same way, so a part is built once, here.
    """
    made = hydra.utils.instantiate(config, **kwargs)
    return made() if isinstance(made, functools.partial) else made


def build_partial(config: Mapping[str, Any], **kwargs: Any) -> functools.partial:
    """The part's constructor with its node's arguments bound (``functools.partial``), to be completed
    later (an optimizer with its parameters, a head with its backbone's channels)."""
    return hydra.utils.instantiate(config, _partial_=True, **kwargs)


def with_input_size(config: Mapping[str, Any], input_size: Sequence[int]) -> dict[str, Any]:
    """The encoding node with every ``input_size`` that is unset (None) set to ``input_size`` ``(w, h)``
    (nested encodings included, e.g. a hybrid's heatmap and SimCC).

    Raises:
        ValueError: an ``input_size`` that is set and differs from the dataset's, naming both.
    """
    size = [int(input_size[0]), int(input_size[1])]
    out = {}
    for key, value in config.items():
        if key == "input_size":
            if value is not None and [int(v) for v in value] != size:
                raise ValueError(
                    f"encoding.input_size {list(value)} differs from the dataset's input size {size} "
                    "(leave encoding.input_size unset to follow the dataset)"
                )
            value = size
        elif isinstance(value, Mapping):
            value = with_input_size(value, size)
        out[key] = value
    return out


def without_pretrained(config: Mapping[str, Any]) -> dict[str, Any]:
    """The backbone node as a checkpoint stores it: ``pretrained=False`` and no ``pretrained_path``
    (the weights come from the checkpoint; loading never downloads or reads another file)."""
    out = dict(config)
    if "pretrained" in out:
        out["pretrained"] = False
    if "pretrained_path" in out:
        out["pretrained_path"] = None
    return out
