"""Checks of the user's config that run before any set-up (no data read, no model built): the required
keys, the declared ``trainer.*`` values against ``lightning.Trainer``'s signature, the checkpoint and the
paths a run reads or writes. Each failure is a :class:`ConfigError` naming the key, its value and what is
wrong, which the entry points print as one line (see :mod:`lit_heatmap.utils.app`)."""

from __future__ import annotations

import datetime
import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf

# ckpt_path values Lightning resolves itself (trainer.fit(ckpt_path="last"))
LIGHTNING_CKPT_NAMES = ("last", "best", "hpc", "registry")


class ConfigError(ValueError):
    """A config value that cannot work, found before any set-up; the message names the key."""


def check_config(cfg: DictConfig, task: str) -> None:
    """All the checks for the entry point ``task`` (``"train"``, ``"eval"``, ``"predict"``, ``"export"``).

    Raises:
        ConfigError: the first problem found, naming the key (``trainer.max_epochs``, ``ckpt_path``,
            ``output``, ``dataset.root``...).
    """
    check_required(cfg)
    if cfg.get("trainer") is not None:
        check_trainer(cfg.trainer)
    for key in ("ckpt_path", "model", "boxes") if task == "predict" else ("ckpt_path",):
        value = cfg.get(key)
        if value in (None, "") or (task == "train" and key == "ckpt_path" and value in LIGHTNING_CKPT_NAMES):
            continue
        check_input_file(key, value)
    if task == "predict":
        if not Path(str(cfg.input)).expanduser().exists():
            raise ConfigError(f"input={cfg.input}: no such image file or folder")
        check_output(f"output={cfg.output}", cfg.output, folder=True)
    elif task == "export" and cfg.get("output"):
        check_output(f"output={cfg.output}", cfg.output, folder=False)
    elif task == "eval":
        for key in ("metrics_file", "results_file"):
            if cfg.get(key):
                check_output(f"{key}={cfg[key]}", cfg[key], folder=False)


def check_required(cfg: DictConfig) -> None:
    """Every mandatory value (``???`` in the config, e.g. ``dataset.root`` of ``dataset=coco``) is given."""
    missing = sorted(_missing(cfg, ""))
    if missing:
        key = missing[0]
        group = key.split(".")[0]
        choice = _choice(group)
        where = f" (needed by {group}={choice})" if choice else ""
        raise ConfigError(f"{key} is required{where}: give it on the command line, e.g. `{key}=...`")


def _missing(node: Any, prefix: str) -> list[str]:
    """Dotted keys whose value is ``???`` (interpolations are not followed: ``x: ${dataset.root}`` is
    reported as ``dataset.root``)."""
    out: list[str] = []
    if isinstance(node, DictConfig):
        items = [(str(k), k) for k in node.keys() if not (prefix == "" and k == "hydra")]
    elif isinstance(node, ListConfig):
        items = [(str(i), i) for i in range(len(node))]
    else:
        return out
    for name, k in items:
        key = f"{prefix}{name}"
        if OmegaConf.is_missing(node, k):
            out.append(key)
        elif not OmegaConf.is_interpolation(node, k):
            out += _missing(node._get_node(k), key + ".")
    return out


def _choice(group: str) -> str | None:
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return HydraConfig.get().runtime.choices.get(group)
    except Exception:  # noqa: BLE001 - no Hydra runtime
        pass
    return None


def check_input_file(key: str, value: Any) -> Path:
    """``key=value`` names an existing file."""
    path = Path(str(value)).expanduser()
    if not path.exists():
        raise ConfigError(f"{key}={value}: no such file")
    if not path.is_file():
        raise ConfigError(f"{key}={value}: is a folder, not a file")
    return path


def check_output(what: str, value: Any, folder: bool) -> None:
    """The output ``value`` (a folder when ``folder``, else a file) can be created: no file in the way,
    the first existing parent is a writable folder.

    Args:
        what: ``key=value`` for the message.
    """
    path = Path(str(value)).expanduser().absolute()
    if path.exists():
        if folder and not path.is_dir():
            raise ConfigError(f"{what}: {path} is a file; this is the folder the results go to, choose another")
        if not folder and path.is_dir():
            raise ConfigError(f"{what}: {path} is a folder; give a file name")
    parent = path if folder else path.parent
    check_creatable_folder(what, parent)


def check_creatable_folder(what: str, folder: str | Path) -> None:
    """``folder`` exists as a writable folder or can be created (its first existing ancestor is one)."""
    path = Path(folder).expanduser().absolute()
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what}: cannot create the folder {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: cannot create the folder {path}: {existing} is not writable")


# ---------------------------------------------------------------------------------------------- trainer
def check_trainer(trainer: DictConfig) -> None:
    """Every key of ``trainer`` is an argument of its ``_target_`` (``lightning.pytorch.Trainer``) and its
    value has the type the signature declares (``trainer.max_epochs=abc`` is not an int)."""
    cls = _trainer_class(trainer.get("_target_"))
    if cls is None:
        return
    signature = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: check the names only
        hints = {}
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    node = OmegaConf.to_container(trainer, resolve=True)
    assert isinstance(node, dict)
    for key, value in node.items():
        if str(key).startswith("_"):
            continue
        if key not in signature.parameters:
            if accepts_any:
                continue
            raise ConfigError(f"trainer.{key}: not an argument of {cls.__module__}.{cls.__name__}")
        hint = hints.get(key)
        if hint is not None and not _matches(value, hint):
            raise ConfigError(f"trainer.{key}={value!r}: expected {_describe(hint)}, got {_type_name(value)}")


def _trainer_class(target: Any) -> type | None:
    if not target:
        return None
    try:
        from hydra.utils import get_class

        return get_class(str(target))
    except Exception:  # noqa: BLE001 - instantiation will report it
        return None


def _matches(value: Any, hint: Any) -> bool:
    """Whether a plain config value fits the annotation (lenient where the annotation is not a plain type)."""
    if hint is Any:
        return True
    if isinstance(value, dict) and "_target_" in value:
        return True  # an object Hydra builds (a strategy, a profiler...)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is datetime.timedelta:
        return False  # a config holds strings or dicts, never timedelta objects
    base = origin or hint
    if base in (list, tuple, Sequence, Iterable):
        return isinstance(value, (list, tuple))
    if base in (dict, Mapping):
        return isinstance(value, dict)
    if isinstance(base, type):
        return isinstance(value, base)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_describe(a) for a in args))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    base = origin or hint
    if base in (list, tuple, Sequence, Iterable):
        return "a list"
    if base in (dict, Mapping):
        return "a mapping"
    return getattr(base, "__name__", str(base))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list"}
    names[dict] = "a mapping"
    return names.get(type(value), type(value).__name__)
