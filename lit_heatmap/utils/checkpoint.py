"""Loading checkpoints, in one place for eval, predict and export (train resumes through Lightning).

Checkpoints written by this version hold plain data only and load with ``torch.load(weights_only=True)``.
Checkpoints of older versions hold pickled Python objects (partials, codec and loss instances), which
can run code while loading: they are refused unless the caller trusts their source
(``trust_checkpoint=true``), and then converted to the plain form (:mod:`lit_heatmap.utils.legacy_checkpoint`).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from lit_heatmap.module import HeatmapModule
from lit_heatmap.utils.legacy_checkpoint import legacy_hparams, pickled_modules

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
        CheckpointError: naming the file and what is wrong: empty, a text file, a video, an ONNX export,
            truncated or corrupt, pickled objects of other code, or of an older lit_heatmap without ``trust``.
    """
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"ckpt_path={str(path)!r}: no such checkpoint file")
    _check_file_kind(p)
    try:
        return _with_path(p, torch.load, p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        ours = any(m.split(".")[0] == "lit_heatmap" for m in pickled_modules(p))
        if not ours:
            first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise CheckpointError(
                f"{p}: not a lit_heatmap checkpoint: it holds pickled objects of other code ({first[:200]})"
            ) from err
        if not trust:
            raise CheckpointError(
                f"{p} was made by an older version of lit_heatmap: it holds pickled Python objects, which can run "
                "code when loaded. Load it with trust_checkpoint=true only if you trust its source."
            ) from err
    return _with_path(p, torch.load, p, map_location="cpu", weights_only=False)


def _check_file_kind(p: Path) -> None:
    """Refuse, by its first bytes, a file that is not a PyTorch checkpoint (empty, a video, ONNX, text)."""
    with open(p, "rb") as f:
        head = f.read(16)
    if not head:
        raise CheckpointError(f"{p}: the file is empty (0 bytes), not a checkpoint")
    if head[4:8] == b"ftyp":
        raise CheckpointError(f"{p}: this is a video (MP4/MOV), not a checkpoint; give it as input=, not ckpt_path=")
    if p.suffix.lower() == ".onnx" or (head[:1] == b"\x08" and not head.startswith(b"PK")):
        raise CheckpointError(f"{p}: this looks like an ONNX export, not a training checkpoint (.ckpt)")
    if not head.startswith(b"PK") and head[:1] != b"\x80":
        raise CheckpointError(
            f"{p}: not a PyTorch checkpoint (it starts with {head[:8]!r}; a text file?); expected a .ckpt "
            "written by lit-heatmap-train"
        )


def _with_path(p: Path, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with a truncated or corrupt file's error turned into one naming ``p``."""
    try:
        return fn(*args, **kwargs)
    except pickle.UnpicklingError:
        raise
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as err:
        raise CheckpointError(f"{p}: cannot read this checkpoint (truncated or corrupt?): {err}") from err


_REQUIRED = ("backbone", "head", "encoding", "decoder", "meta")
_REQUIRED_META = ("keypoint_names", "input_size")


def model_hparams(checkpoint: dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """The model's constructor arguments stored in ``checkpoint`` (plain data; converted from an older
    checkpoint's objects when it was loaded with ``trust``).

    Raises:
        CheckpointError: not a lit_heatmap model checkpoint.
    """
    if path is not None:
        try:
            return model_hparams(checkpoint)
        except CheckpointError as err:
            raise CheckpointError(f"{path}: {err}") from err
    hp = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hp, dict) or "encoding" not in hp or "state_dict" not in checkpoint:
        raise CheckpointError("not a lit_heatmap checkpoint (no model hyper-parameters or state_dict)")
    if isinstance(hp["encoding"], dict):
        missing = [k for k in _REQUIRED if not isinstance(hp.get(k), dict)]
        meta = hp.get("meta") if isinstance(hp.get("meta"), dict) else {}
        missing += [f"meta.{k}" for k in _REQUIRED_META if "meta" not in missing and k not in meta]
        if missing:
            raise CheckpointError(f"not a complete lit_heatmap checkpoint: hyper_parameters lack {', '.join(missing)}")
        return dict(hp)
    return legacy_hparams(hp, checkpoint.get("dataset_meta"))


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
    hparams = {**model_hparams(checkpoint, path), **overrides}
    model = HeatmapModule(**hparams)
    state = checkpoint["state_dict"]
    legacy = "pixel_mean" not in state  # older checkpoints normalised in the data pipeline (ImageNet)
    missing, unexpected = model.load_state_dict(state, strict=not legacy)
    if legacy and (set(missing) - {"pixel_mean", "pixel_std"} or unexpected):
        raise CheckpointError(f"{path}: weights do not match the model (missing {missing}, unexpected {unexpected})")
    return model.eval()
