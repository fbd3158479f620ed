"""``lit-heatmap-predict``: keypoints for an image or a folder of images, from a checkpoint or an export.

Usage::

    lit-heatmap-predict ckpt_path=best.ckpt input=photo.jpg output=preds/
    lit-heatmap-predict ckpt_path=best.ckpt input=images/ output=preds/ boxes=detections.json
    lit-heatmap-predict model=model.onnx input=images/ output=preds/      # onnxruntime, no Lightning

Writes ``<output>/results.json`` (COCO keypoint results: ``image_id``, ``category_id``, ``keypoints``
[x, y, score]*K in original image pixels, ``score``, plus ``bbox`` and ``file_name``) and one overlay
per image, ``<output>/overlays/<image file name>.png`` (keypoints and skeleton; never an input file).

Boxes: a top-down model predicts one instance per box. Without ``boxes`` every image is one box (the
whole image); with ``boxes=<json>`` (a COCO detection results list) each detection is one instance.
Image ids: the numeric file names when all names are numbers (``000000000785.jpg`` -> 785), else the
position in the sorted folder. Results follow the top-down protocol: instance score = box score x
mean keypoint score above ``keypoint_score_threshold``, then OKS-NMS per image (``nms_threshold``).
An image that cannot be read is reported by name and skipped; the count is printed at the end.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from torch import Tensor
from torch.utils.data import DataLoader

from lit_heatmap import utils, visualize
from lit_heatmap.data import (
    DatasetMeta,
    ImageBoxes,
    KeypointTransform,
    box_records,
    collate,
    list_images,
    read_image,
)
from lit_heatmap.inference import KeypointPredictor, OnnxPredictor
from lit_heatmap.metrics.functional.topdown import oks_nms, rescore
from lit_heatmap.module import to_original


def load_predictor(cfg: DictConfig) -> KeypointPredictor | OnnxPredictor:
    """``model=<file.onnx>`` (onnxruntime) or ``ckpt_path=<file.ckpt>`` (PyTorch), one of them."""
    if cfg.get("model"):
        if cfg.get("ckpt_path"):
            raise ValueError("give either model=<file.onnx> or ckpt_path=<file.ckpt>, not both")
        return OnnxPredictor(cfg.model)
    if not cfg.get("ckpt_path"):
        raise ValueError("give ckpt_path=<file.ckpt> or model=<file.onnx>")
    model = utils.load_model(cfg.ckpt_path, bool(cfg.get("trust_checkpoint", False)))
    return KeypointPredictor(model, cfg.get("flip_test")).eval()


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Runs the model on ``cfg.input``; writes results.json and overlays to ``cfg.output``.

    Returns:
        the COCO results list that was written.
    """
    predictor = load_predictor(cfg)
    meta = predictor.meta
    images = list_images(cfg.input)
    out_dir = Path(str(cfg.output)).expanduser()
    records, problems = box_records(
        images, len(meta["keypoint_names"]), cfg.get("boxes"), float(cfg.box_score_threshold)
    )
    padding = 1.0 if cfg.get("boxes") is None else float(cfg.box_padding)
    transform = KeypointTransform(input_size=predictor.input_size, train=False, padding=padding)
    dataset = ImageBoxes(records, _dataset_meta(meta), transform)
    loader = DataLoader(dataset, batch_size=int(cfg.batch_size), collate_fn=collate, num_workers=int(cfg.num_workers))
    rows: dict[str, list[Tensor]] = defaultdict(list)
    with torch.inference_mode():
        for batch in loader:
            valid = batch["valid"]
            problems += [f"cannot read image file {p}" for p, ok in zip(batch["image_path"], valid.tolist()) if not ok]
            keypoints, scores = predictor(batch["image"])
            rows["keypoints"].append(to_original(keypoints.float(), batch["affine"].float())[valid])
            for key, value in (
                ("scores", scores.float()),
                ("box_score", batch["score"]),
                ("image_id", batch["image_id"]),
                ("bbox", batch["bbox"]),
            ):
                rows[key].append(value[valid])
            rows["path"] += [p for p, ok in zip(batch["image_path"], valid.tolist()) if ok]
    results = _results(rows, meta, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results))
    write_overlays(results, images, out_dir / "overlays", meta.get("skeleton"), float(cfg.draw_threshold))
    unreadable = sorted(set(problems))
    for p in unreadable:
        print(f"lit-heatmap-predict: skipped: {p}", flush=True)
    print(
        f"lit-heatmap-predict: {len(results)} instances in {len(images) - len(unreadable)} images "
        f"({len(unreadable)} unreadable) -> {out_dir / 'results.json'}",
        flush=True,
    )
    return results


def _dataset_meta(meta: dict[str, Any]) -> DatasetMeta:
    k = len(meta["keypoint_names"])
    return DatasetMeta(
        name=str(meta.get("name", "")),
        num_keypoints=k,
        keypoint_names=list(meta["keypoint_names"]),
        skeleton=[tuple(e) for e in meta.get("skeleton", [])],
        flip_index=list(range(k)),
        sigmas=list(meta.get("sigmas") or [0.05] * k),
        input_size=tuple(meta["input_size"]),
    )


def _results(rows: dict[str, list], meta: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """COCO results after the top-down protocol (rescoring, OKS-NMS per image)."""
    if not rows["path"]:
        return []
    cat = {key: torch.cat(value) for key, value in rows.items() if key != "path"}
    score = rescore(cat["scores"].double(), cat["box_score"].double(), float(cfg.keypoint_score_threshold))
    sigmas = torch.as_tensor(meta.get("sigmas") or [0.05] * cat["keypoints"].shape[1], dtype=torch.float64)
    keep = oks_nms(cat["keypoints"].double(), score.double(), cat["image_id"].long(), sigmas, cfg.get("nms_threshold"))
    category = int(meta.get("category_id", 1))
    results = []
    for n in torch.nonzero(keep).reshape(-1).tolist():
        kps = torch.cat([cat["keypoints"][n], cat["scores"][n][:, None]], -1).reshape(-1)
        results.append(
            {
                "image_id": int(cat["image_id"][n]),
                "category_id": category,
                "keypoints": [float(v) for v in kps],
                "score": float(score[n]),
                "bbox": [float(v) for v in cat["bbox"][n]],
                "file_name": Path(rows["path"][n]).name,
            }
        )
    return results


def overlay_path(out_dir: Path, image: Path) -> Path:
    """``<out_dir>/<image file name>.png``: distinct for distinct input names (``a.jpg`` / ``a.png``)."""
    return out_dir / f"{image.name}.png"


def write_overlays(
    results: list[dict[str, Any]], images: list[Path], out_dir: Path, skeleton: list | None, threshold: float
) -> list[Path]:
    """One PNG per image with every predicted instance (keypoints above ``threshold`` + skeleton).

    Raises:
        ValueError: an overlay path that is one of the input images (never overwritten).
    """
    per_image = defaultdict(list)
    for r in results:
        per_image[r["file_name"]].append(r)
    inputs = {f.resolve() for f in images}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for f in images:
        if f.name not in per_image:
            continue
        path = overlay_path(out_dir, f)
        if path.resolve() in inputs:
            raise ValueError(f"overlay {path} would overwrite an input image; choose another output=")
        img = read_image(f)
        size = max(img.shape[:2])
        for r in per_image[f.name]:
            kps = np.asarray(r["keypoints"], dtype=np.float32).reshape(-1, 3)
            img = visualize.draw_keypoints(
                img,
                kps[:, :2],
                kps[:, 2] > threshold,
                skeleton,
                radius=max(2, round(size / 200)),
                thickness=max(1, round(size / 300)),
            )
        cv2.imwrite(str(path), img[:, :, ::-1])
        written.append(path)
    return written


@hydra.main(version_base="1.3", config_path=utils.CONFIG_PATH, config_name="predict")
def main(cfg: DictConfig) -> None:
    """Console script ``lit-heatmap-predict``."""
    utils.extras(cfg)
    predict(cfg)


if __name__ == "__main__":
    main()
