"""Loading checkpoints, in one place for eval, predict and export (train resumes through Lightning).

Checkpoints written by this version hold plain data only and load with ``torch.load(weights_only=True)``.
Checkpoints of older versions hold pickled Python objects (partials, codec and loss instances), which
can run code while loading: they are refused unless the caller trusts their source
(``trust_checkpoint=true``), and then converted to the plain form.
"""

from __future__ import annotations

import functools
import inspect
import pickle
from pathlib import Path
from typing import Any

import torch

from lit_heatmap.models.parts import plain
from lit_heatmap.module import HeatmapModule

__all__ = ["CheckpointError", "load_checkpoint", "load_model", "model_hparams"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely or does not describe a lit_heatmap model."""


def load_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (on the CPU), read with ``weights_only=True``.

    Args:
        path: a ``.ckpt`` file.
        trust: unpickle a checkpoint of an older version (it can run code: only for sources you trust).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a checkpoint holding pickled objects, without ``trust``.
    """
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"ckpt_path={str(path)!r}: no such checkpoint file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust:
            raise CheckpointError(
                f"{p} was made by an older version of lit_heatmap: it holds pickled Python objects, which can run "
                "code when loaded. Load it with trust_checkpoint=true only if you trust its source."
            ) from err
    return torch.load(p, map_location="cpu", weights_only=False)


def _target(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _node(obj: Any) -> Any:
    """A pickled part of an old checkpoint as a config node (its class and constructor arguments)."""
    if isinstance(obj, functools.partial):
        return {"_target_": _target(obj.func), **{k: _node(v) for k, v in obj.keywords.items()}}
    if obj is None or isinstance(obj, (bool, int, float, str, list, tuple, dict)):
        return plain(obj) if not isinstance(obj, dict) else {k: _node(v) for k, v in obj.items()}
    params = inspect.signature(type(obj).__init__).parameters
    args = {name: _node(getattr(obj, name)) for name in params if name != "self" and hasattr(obj, name)}
    return {"_target_": _target(type(obj)), **args}


def _legacy_hparams(hp: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    """The constructor arguments of an older checkpoint (pickled objects) in today's plain form."""
    encoding = _node(hp["encoding"])
    size = encoding.get("input_size") or encoding.get("heatmap", {}).get("input_size")
    k = int(hp["num_keypoints"])
    meta = dict(meta or {})
    meta.setdefault("name", "unknown")
    meta.setdefault("keypoint_names", [f"keypoint_{i}" for i in range(k)])
    meta.setdefault("skeleton", [])
    meta.setdefault("flip_index", hp.get("flip_index"))
    meta.setdefault("sigmas", hp.get("sigmas") or [0.05] * k)
    meta.setdefault("input_size", list(size))
    return {
        "backbone": _node(hp["backbone"]),
        "head": _node(hp["head"]),
        "encoding": encoding,
        "decoder": _node(hp["decoder"]),
        "loss": _node(hp["loss"]),
        "meta": plain(meta),
        "optimizer": _node(hp.get("optimizer")),
        "scheduler": _node(hp.get("scheduler")),
        "flip_test": bool(hp.get("flip_test", False)),
        "keypoint_score_threshold": float(hp.get("keypoint_score_threshold", 0.2)),
    }


def model_hparams(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The model's constructor arguments stored in ``checkpoint`` (plain data; converted from an older
    checkpoint's objects when it was loaded with ``trust``).

    Raises:
        CheckpointError: not a lit_heatmap model checkpoint.
    """
    hp = checkpoint.get("hyper_parameters")
    if not isinstance(hp, dict) or "encoding" not in hp or "state_dict" not in checkpoint:
        raise CheckpointError("not a lit_heatmap checkpoint (no model hyper-parameters or state_dict)")
    if isinstance(hp["encoding"], dict):
        return dict(hp)
    return _legacy_hparams(hp, checkpoint.get("dataset_meta"))


def load_model(checkpoint: str | Path | dict[str, Any], trust: bool = False, **overrides: Any) -> HeatmapModule:
    """The :class:`~lit_heatmap.module.HeatmapModule` of a checkpoint, in eval mode on the CPU.

    Args:
        checkpoint: the checkpoint file, or the dict :func:`load_checkpoint` returned (read once).
        trust: as :func:`load_checkpoint`.
        **overrides: constructor arguments that replace the stored ones (``decoder=``, ``flip_test=``,
            ``metrics=``, ``nms_threshold=``...).
    """
    path = checkpoint if not isinstance(checkpoint, dict) else "checkpoint"
    if not isinstance(checkpoint, dict):
        checkpoint = load_checkpoint(checkpoint, trust)
    hparams = {**model_hparams(checkpoint), **overrides}
    model = HeatmapModule(**hparams)
    state = checkpoint["state_dict"]
    legacy = "pixel_mean" not in state  # older checkpoints normalised in the data pipeline (ImageNet)
    missing, unexpected = model.load_state_dict(state, strict=not legacy)
    if legacy and (set(missing) - {"pixel_mean", "pixel_std"} or unexpected):
        raise CheckpointError(f"{path}: weights do not match the model (missing {missing}, unexpected {unexpected})")
    return model.eval()
