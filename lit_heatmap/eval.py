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
over every image of the split). They are printed and written to ``metrics_file`` (JSON); the
predictions behind them (after rescoring and OKS-NMS, original pixels) go to ``results_file`` in the
COCO keypoint results format, one entry per instance: ``image_id``, ``category_id``, ``keypoints``
``[x, y, score]*K``, ``score`` and the ``bbox`` it was cropped from. For COCO-like data, pycocotools'
``COCOeval`` on that file and the split's annotation file gives the printed AP.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, open_dict

from lit_heatmap import utils
from lit_heatmap.nodes import plain


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
    hparams = utils.model_hparams(checkpoint, cfg.ckpt_path)
    size = list(hparams["meta"]["input_size"])
    if "input_size" in cfg.dataset and cfg.dataset.input_size is not None and list(cfg.dataset.input_size) != size:
        print(f"dataset.input_size {list(cfg.dataset.input_size)} -> {size} (from the checkpoint)", flush=True)
    with open_dict(cfg):
        cfg.dataset.input_size = size
        if "padding" in cfg.dataset and "padding" in hparams["meta"]:
            cfg.dataset.padding = float(hparams["meta"]["padding"])  # crop as in training
        cfg.dataset.datamodule.train = None  # evaluation never reads (or needs) the training split
        _use_run_split(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.dataset.datamodule)
    meta = _match_names(cfg, hparams["meta"], datamodule, split)
    model = _model(cfg, checkpoint, hparams, meta)
    category_id = int(getattr(datamodule.meta, "category_id", 1))
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
    _write(cfg, metrics, coco_results(model.results(split), category_id))
    return metrics


def coco_results(results: dict[str, Any] | None, category_id: int) -> list[dict[str, Any]]:
    """:meth:`HeatmapModule.results` -> COCO keypoint results, one dict per instance."""
    if results is None:
        return []
    kps = torch.cat([results["keypoints"], results["keypoint_scores"][..., None]], -1).flatten(1)
    return [
        {
            "image_id": int(image_id),
            "category_id": category_id,
            "keypoints": [float(v) for v in row],
            "score": float(score),
            "bbox": [float(v) for v in box],
        }
        for image_id, row, score, box in zip(
            results["image_id"].tolist(), kps.tolist(), results["score"].tolist(), results["bbox"].tolist()
        )
    ]


def _use_run_split(cfg: DictConfig) -> None:
    """``dataset.split_file`` left null: the checkpoint's run ``split.json`` (``<run>/checkpoints/x.ckpt``
    -> ``<run>/split.json``), when the dataset takes one, so val is the frames that run held out."""
    if "split_file" not in cfg.dataset or cfg.dataset.split_file is not None:
        return
    found = Path(str(cfg.ckpt_path)).expanduser().resolve().parent.parent / "split.json"
    if found.is_file():
        cfg.dataset.split_file = str(found)
        print(f"dataset.split_file={found}: the frames of the checkpoint's run (set dataset.split_file='' "
              "to split by dataset.val_fraction instead)", flush=True)  # fmt: skip


def _match_names(cfg: DictConfig, stored: dict[str, Any], datamodule: Any, split: str) -> Any:
    """The dataset's meta with its keypoints in the checkpoint's order: remapped by name when the
    dataset lists the same names in another order (said once); refused when the names differ."""
    meta = datamodule.meta
    names, ckpt_names = list(meta.keypoint_names), [str(n) for n in stored["keypoint_names"]]
    if names == ckpt_names:
        return meta
    if sorted(names) != sorted(ckpt_names) or len(set(names)) != len(names):
        raise utils.ConfigCompatibilityError(
            f"checkpoint {cfg.ckpt_path} predicts {len(ckpt_names)} keypoints {ckpt_names} but dataset "
            f"{meta.name!r} has {len(names)} keypoints {names}; evaluate on data labelled with the checkpoint's names"
        )
    ds = datamodule.dataset(split)
    if not callable(getattr(ds, "reorder_keypoints", None)):
        raise utils.ConfigCompatibilityError(
            f"dataset {meta.name!r} lists the checkpoint's keypoints in another order ({names}, checkpoint: "
            f"{ckpt_names}) and {type(ds).__name__} cannot reorder them"
        )
    ds.reorder_keypoints(ckpt_names)
    print(f"keypoint names: dataset {meta.name!r} lists the checkpoint's {len(names)} names in another order "
          f"({', '.join(names)}); its labels are remapped by name to the checkpoint's order", flush=True)  # fmt: skip
    return ds.meta


def _model(cfg: DictConfig, checkpoint: dict[str, Any], hparams: dict[str, Any], meta: Any) -> Any:
    """The checkpoint's model with the dataset's metrics and sigmas and the command line's decoding."""
    stored = hparams["meta"]
    overrides: dict[str, Any] = {
        "metrics": plain(cfg.dataset.get("metrics")),
        "meta": {**stored, "sigmas": plain(meta.sigmas)},
        "nms_threshold": cfg.get("nms_threshold", hparams.get("nms_threshold")),
        "keep_results": True,
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
def _write(cfg: DictConfig, metrics: dict[str, float], results: list[dict[str, Any]]) -> None:
    out, res_file = cfg.get("metrics_file"), cfg.get("results_file")
    if res_file:
        os.makedirs(os.path.dirname(os.path.abspath(res_file)), exist_ok=True)
        with open(res_file, "w") as f:
            json.dump(results, f)
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
    lines += [
        f"metrics file: {out}" if out else "",
        f"results file: {res_file} ({len(results)} instances)" if res_file else "",
    ]
    lines += ["=" * 72]
    print("\n".join(lines), flush=True)


@hydra.main(version_base="1.3", config_path=utils.CONFIG_PATH, config_name="eval")
@utils.entry_point("eval")
def main(cfg: DictConfig) -> float | None:
    """Console script ``lit-heatmap-eval``; returns the dataset's monitored metric when logged."""
    utils.extras(cfg)
    metrics = evaluate(cfg)
    name = str(cfg.dataset.get("monitor", "")).replace("val/", f"{cfg.get('split', 'val')}/", 1)
    return metrics.get(name)


if __name__ == "__main__":
    main()
