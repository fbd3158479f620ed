"""Checkpoints of older lit_heatmap versions: pickled Python objects (partials, codec and loss instances)
in ``hyper_parameters``. Read without running them (:func:`pickled_modules`), and, once the caller
trusts the file and it is unpickled, converted to today's plain config nodes (:func:`legacy_hparams`).
:mod:`lit_heatmap.utils.checkpoint` decides when this path is taken.
"""

from __future__ import annotations

import functools
import inspect
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import Any

from lit_heatmap.nodes import plain

__all__ = ["legacy_hparams", "pickled_modules"]


def pickled_modules(p: Path) -> set[str]:
    """The modules of the globals a checkpoint's pickle refers to (read with pickletools, nothing run)."""
    try:
        with zipfile.ZipFile(p) as z:
            data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    except (OSError, zipfile.BadZipFile, StopIteration):
        return set()
    mods, strings = set(), []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                mods.add(str(arg).split(" ")[0])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                mods.add(strings[-2])
            if isinstance(arg, str):
                strings.append(arg)
    except (ValueError, pickle.UnpicklingError):
        pass
    return mods


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


def legacy_hparams(hp: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
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
