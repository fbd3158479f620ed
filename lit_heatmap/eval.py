"""``lit-heatmap-eval``: evaluate a checkpoint on a dataset's val or test split.

Usage::

    lit-heatmap-eval ckpt_path=logs/train/runs/<date>/checkpoints/epoch_009.ckpt     # synthetic val
    lit-heatmap-eval ckpt_path=... dataset=coco dataset.root=/data/coco               # COCO AP, GT boxes
    lit-heatmap-eval ckpt_path=... dataset=coco dataset.root=/data/coco \\
        dataset.det_file=/data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json
    lit-heatmap-eval ckpt_path=... dataset=wflw dataset.root=/data/wflw split=test    # NME/FR/AUC + subsets
    lit-heatmap-eval ckpt_path=... dataset=coco_format dataset.val_ann=val.json       # no train_ann needed
    lit-heatmap-eval ckpt_path=... +decoder=argmax flip_test=true                     # other decoding

The model is rebuilt from the checkpoint alone (plain data, ``weights_only=True``; its input size
too); the dataset config supplies the data, its metrics and OKS sigmas. Metrics follow the top-down
protocol of :class:`lit_heatmap.metrics.KeypointEvaluator` (rescoring, OKS-NMS ``nms_threshold``, AP
over every image of the split). They are printed and written to ``metrics_file`` (JSON).
"""

from __future__ import annotations

import json
import os
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, open_dict

from lit_heatmap import utils
from lit_heatmap.models.parts import plain


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Builds the dataset and the checkpoint's model, runs ``trainer.validate`` or ``trainer.test``.

    Returns:
        the logged metrics as floats (``val/AP``, ``val/NME``, ``test/PCK@0.05``...).

    Raises:
        FileNotFoundError / CheckpointError: ``ckpt_path`` missing or unsafe to load.
        ConfigCompatibilityError: the dataset's K differs from the checkpoint's, or ``decoder=`` cannot
            read the checkpoint's encoding.
    """
    split = str(cfg.get("split", "val"))
    if split not in ("val", "test"):
        raise ValueError(f"split={split!r}: use split=val or split=test")
    checkpoint = utils.load_checkpoint(cfg.ckpt_path, bool(cfg.get("trust_checkpoint", False)))
    hparams = utils.model_hparams(checkpoint)
    size = list(hparams["meta"]["input_size"])
    if "input_size" in cfg.dataset and cfg.dataset.input_size is not None and list(cfg.dataset.input_size) != size:
        print(f"dataset.input_size {list(cfg.dataset.input_size)} -> {size} (from the checkpoint)", flush=True)
    with open_dict(cfg):
        cfg.dataset.input_size = size
        if "padding" in cfg.dataset and "padding" in hparams["meta"]:
            cfg.dataset.padding = float(hparams["meta"]["padding"])  # crop as in training
        cfg.dataset.datamodule.train = None  # evaluation never reads (or needs) the training split
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.dataset.datamodule)
    model = _model(cfg, checkpoint, hparams, datamodule.meta)
    utils.attach_ground_truth(model, datamodule, (split,))
    loggers = utils.instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    try:
        if split == "test":
            trainer.test(model, datamodule=datamodule)
        else:
            trainer.validate(model, datamodule=datamodule)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    finally:
        utils.close_loggers()
    _write(cfg, metrics)
    return metrics


def _model(cfg: DictConfig, checkpoint: dict[str, Any], hparams: dict[str, Any], meta: Any) -> Any:
    """The checkpoint's model with the dataset's metrics and sigmas and the command line's decoding."""
    stored = hparams["meta"]
    if len(meta.keypoint_names) != len(stored["keypoint_names"]):
        raise utils.ConfigCompatibilityError(
            f"checkpoint {cfg.ckpt_path} predicts {len(stored['keypoint_names'])} keypoints but dataset "
            f"{meta.name!r} has {meta.num_keypoints}"
        )
    overrides: dict[str, Any] = {
        "metrics": plain(cfg.dataset.get("metrics")),
        "meta": {**stored, "sigmas": plain(meta.sigmas)},
        "nms_threshold": cfg.get("nms_threshold", hparams.get("nms_threshold")),
    }
    if cfg.get("flip_test") is not None:
        overrides["flip_test"] = bool(cfg.flip_test)
    if cfg.get("decoder"):
        overrides["decoder"] = plain(cfg.decoder)
    try:
        return utils.load_model(checkpoint, **overrides)
    except ValueError as err:
        choice = utils.config_choices().get("decoder")
        what = f"decoder={choice}" if choice and "decoder" in overrides else "these settings"
        raise utils.ConfigCompatibilityError(f"cannot use checkpoint {cfg.ckpt_path} with {what}: {err}") from err


@rank_zero_only
def _write(cfg: DictConfig, metrics: dict[str, float]) -> None:
    out = cfg.get("metrics_file")
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump(
                {"ckpt_path": str(cfg.ckpt_path), "split": str(cfg.get("split", "val")), "metrics": metrics},
                f,
                indent=2,
            )
    lines = ["", "=" * 72, f"lit-heatmap-eval: {cfg.ckpt_path} ({cfg.get('split', 'val')} split)"]
    lines += [f"  {k:<28s} {v:.4f}" for k, v in sorted(metrics.items())]
    lines += [f"metrics file: {out}" if out else "", "=" * 72]
    print("\n".join(lines), flush=True)


@hydra.main(version_base="1.3", config_path=utils.CONFIG_PATH, config_name="eval")
def main(cfg: DictConfig) -> float | None:
    """Console script ``lit-heatmap-eval``; returns the dataset's monitored metric when logged."""
    utils.extras(cfg)
    metrics = evaluate(cfg)
    name = str(cfg.dataset.get("monitor", "")).replace("val/", f"{cfg.get('split', 'val')}/", 1)
    return metrics.get(name)


if __name__ == "__main__":
    main()
