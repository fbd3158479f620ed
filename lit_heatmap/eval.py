"""``lit-heatmap-eval``: evaluate a checkpoint on a dataset's val or test split.

Usage::

    lit-heatmap-eval ckpt_path=logs/train/runs/<date>/checkpoints/epoch_009.ckpt     # synthetic val
    lit-heatmap-eval ckpt_path=... dataset=coco dataset.root=/data/coco               # COCO AP, GT boxes
    lit-heatmap-eval ckpt_path=... dataset=coco dataset.root=/data/coco \\
        dataset.det_file=/data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json
    lit-heatmap-eval ckpt_path=... dataset=wflw dataset.root=/data/wflw split=test    # NME/FR/AUC + subsets
    lit-heatmap-eval ckpt_path=... +decoder=dark flip_test=true                       # other decoding

The model is rebuilt from the checkpoint alone (``HeatmapModule.load_from_checkpoint``); the dataset
config supplies the data and its metrics. The network input size comes from the checkpoint. The
metrics are printed and written to ``metrics_file`` (JSON).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, open_dict

from lit_heatmap import utils
from lit_heatmap.module import HeatmapModule
from lit_heatmap.train import CONFIG_PATH


def load_model(cfg: DictConfig, meta: Any = None, metrics: dict | None = None) -> HeatmapModule:
    """The checkpoint's model, with the dataset's metrics and optional decoder / flip-test overrides.

    Raises:
        FileNotFoundError: ``ckpt_path`` does not exist.
        ConfigCompatibilityError: the dataset's K differs from the checkpoint's, or ``decoder=`` cannot
            read the checkpoint's encoding.
    """
    path = Path(str(cfg.ckpt_path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path!r}: no such checkpoint file")
    overrides: dict[str, Any] = {}
    if metrics is not None:
        overrides["metrics"] = metrics
    if meta is not None:
        overrides.update(flip_index=list(meta.flip_index), sigmas=[float(s) for s in meta.sigmas])
    if cfg.get("flip_test") is not None:
        overrides["flip_test"] = bool(cfg.flip_test)
    try:
        model = HeatmapModule.load_from_checkpoint(path, map_location="cpu", **overrides)
    except ValueError as err:
        raise utils.ConfigCompatibilityError(f"cannot use checkpoint {path} with these settings: {err}") from err
    if meta is not None and model.num_keypoints != meta.num_keypoints:
        raise utils.ConfigCompatibilityError(
            f"checkpoint {path} predicts {model.num_keypoints} keypoints but dataset "
            f"{getattr(meta, 'name', '?')!r} has {meta.num_keypoints}"
        )
    if cfg.get("decoder"):
        decoder = hydra.utils.instantiate(cfg.decoder)
        try:
            decoder.check(model.encoding)
        except ValueError as err:
            choice = utils.config_choices().get("decoder", type(decoder).__name__)
            raise utils.ConfigCompatibilityError(
                f"decoder={choice} cannot decode this checkpoint's encoding ({type(model.encoding).__name__}): {err}"
            ) from err
        model.decoder = decoder
    return model


def model_input_size(cfg: DictConfig) -> list[int] | None:
    """The ``(w, h)`` input size stored in the checkpoint's encoding (without building the model)."""
    import torch

    ckpt = torch.load(str(cfg.ckpt_path), map_location="cpu", weights_only=False, mmap=True)
    enc = ckpt.get("hyper_parameters", {}).get("encoding")
    size = getattr(enc, "input_size", None) or getattr(getattr(enc, "heatmap", None), "input_size", None)
    return [int(size[0]), int(size[1])] if size is not None else None


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Builds the dataset and the checkpoint's model, runs ``trainer.validate`` or ``trainer.test``.

    Returns:
        the logged metrics as floats (``val/AP``, ``val/NME``, ``test/PCK@0.05``...).
    """
    if not Path(str(cfg.ckpt_path)).expanduser().is_file():
        raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path!r}: no such checkpoint file")
    size = model_input_size(cfg)
    if size is not None and "input_size" in cfg.dataset and list(cfg.dataset.input_size) != size:
        print(f"dataset.input_size {list(cfg.dataset.input_size)} -> {size} (from the checkpoint)", flush=True)
        with open_dict(cfg):
            cfg.dataset.input_size = size
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    dm_cfg = cfg.dataset.datamodule
    if dm_cfg.get("val") is not None or dm_cfg.get("test") is not None:
        with open_dict(cfg):
            dm_cfg.train = None  # evaluation never reads (or needs) the training split
    datamodule = hydra.utils.instantiate(dm_cfg)
    model = load_model(cfg, datamodule.meta, utils.build_metrics(cfg))
    loggers = utils.instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    split = str(cfg.get("split", "val"))
    if split not in ("val", "test"):
        raise ValueError(f"split={split!r}: use split=val or split=test")
    try:
        # with dataset.det_file the batches are detections; KeypointAP takes the split's ground truth
        # from datamodule.targets() (see HeatmapModule._split_targets)
        if split == "test":
            trainer.test(model, datamodule=datamodule)
        else:
            trainer.validate(model, datamodule=datamodule)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    finally:
        utils.close_loggers()
    _write(cfg, metrics)
    return metrics


@rank_zero_only
def _write(cfg: DictConfig, metrics: dict[str, float]) -> None:
    out = cfg.get("metrics_file")
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"ckpt_path": str(cfg.ckpt_path), "split": str(cfg.get("split", "val")), "metrics": metrics}, f, indent=2)
    lines = ["", "=" * 72, f"lit-heatmap-eval: {cfg.ckpt_path} ({cfg.get('split', 'val')} split)"]
    lines += [f"  {k:<28s} {v:.4f}" for k, v in sorted(metrics.items())]
    lines += [f"metrics file: {out}" if out else "", "=" * 72]
    print("\n".join(lines), flush=True)


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    """Console script ``lit-heatmap-eval``; returns the dataset's monitored metric when logged."""
    utils.extras(cfg)
    metrics = evaluate(cfg)
    name = str(cfg.dataset.get("monitor", "")).replace("val/", f"{cfg.get('split', 'val')}/", 1)
    return metrics.get(name)


if __name__ == "__main__":
    main()
