"""``lit-heatmap-predict``: keypoints for images or videos, from a checkpoint or an export.

Usage::

    lit-heatmap-predict ckpt_path=best.ckpt input=photo.jpg output=preds/
    lit-heatmap-predict ckpt_path=best.ckpt input=images/ output=preds/ boxes=detections.json
    lit-heatmap-predict model=model.onnx input=images/ output=preds/      # onnxruntime, no Lightning
    lit-heatmap-predict ckpt_path=best.ckpt input=videos/ output=preds/ save_video=true filter=median

Images: writes ``<output>/results.json`` (COCO keypoint results: ``image_id``, ``category_id``,
``keypoints`` [x, y, score]*K in original image pixels, ``score``, plus ``bbox`` and ``file_name``) and
one overlay per image, ``<output>/overlays/<image file name>.png`` (keypoints and skeleton; never an
input file).

Boxes: a top-down model predicts one instance per box. Without ``boxes`` every image is one box (the
whole image); with ``boxes=<json>`` (a COCO detection results list) each detection is one instance,
padded by ``box_padding`` (default: what the model was trained with, stored in the checkpoint/export).
Image ids: the numeric file names when all names are numbers (``000000000785.jpg`` -> 785), else the
position in the sorted folder. Results follow the top-down protocol: instance score = box score x
mean keypoint score above ``keypoint_score_threshold``, then OKS-NMS per image (``nms_threshold``).
An image that cannot be read is reported by name and skipped; the count is printed at the end.

Videos (``.mp4 .avi .mov .mkv ...``; a file, a folder or a glob): per video a DeepLabCut-layout
``<stem>.csv`` (and ``.h5`` with the ``[video]`` extra), a ``<stem>.json`` sidecar, optionally
``<stem>_filtered.csv`` and ``<stem>_labeled.mp4``; see :mod:`lit_heatmap.analyze`. Existing outputs
are kept unless ``overwrite=true``. A run where nothing was readable exits non-zero.
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
from lit_heatmap.analyze import VideoOptions, analyze_video, frame_boxes, output_paths
from lit_heatmap.data import (
    DatasetMeta,
    ImageBoxes,
    KeypointTransform,
    box_records,
    collate,
    read_image,
)
from lit_heatmap.data.geometry import to_original
from lit_heatmap.data.images import read_detections
from lit_heatmap.inference import KeypointPredictor, OnnxPredictor
from lit_heatmap.metrics.functional.topdown import crop_areas, topdown_results
from lit_heatmap.video import VideoOpenError, list_inputs, parse_frames, pick_backend


class NothingReadableError(RuntimeError):
    """Not one input image or video could be read (the console script exits non-zero)."""


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
    """Runs the model on ``cfg.input`` (images and/or videos); writes to ``cfg.output``.

    Returns:
        the COCO results list written for the images (empty when the input holds only videos).

    Raises:
        NothingReadableError: no input image or video could be read.
    """
    predictor = load_predictor(cfg)
    images, videos = list_inputs(cfg.input)
    results: list[dict[str, Any]] = []
    readable = 0
    if images:
        results, readable = predict_images(cfg, predictor, images)
    if videos:
        readable += predict_videos(cfg, predictor, videos)
    if readable == 0:
        raise NothingReadableError(
            f"input={cfg.input!s}: nothing was readable ({len(images)} images, {len(videos)} videos; see above)"
        )
    return results


def box_padding(cfg: DictConfig, meta: dict[str, Any]) -> float:
    """``box_padding``, by default what the model was trained with (the checkpoint's or export's)."""
    value = cfg.get("box_padding")
    return float(meta.get("padding", 1.25) if value is None else value)


def predict_images(
    cfg: DictConfig, predictor: KeypointPredictor | OnnxPredictor, images: list[Path]
) -> tuple[list[dict[str, Any]], int]:
    """results.json and overlays for ``images``; returns the results and the number of readable images."""
    meta = predictor.meta
    out_dir = Path(str(cfg.output)).expanduser()
    records, problems = box_records(
        images, len(meta["keypoint_names"]), cfg.get("boxes"), float(cfg.box_score_threshold)
    )
    padding = 1.0 if cfg.get("boxes") is None else box_padding(cfg, meta)
    transform = KeypointTransform(input_size=predictor.input_size, train=False, padding=padding)
    dataset = ImageBoxes(records, DatasetMeta.from_stored(meta), transform)
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
                ("area", crop_areas(batch["affine"], (batch["image"].shape[-1], batch["image"].shape[-2]))),
            ):
                rows[key].append(value[valid])
            rows["path"] += [p for p, ok in zip(batch["image_path"], valid.tolist()) if ok]
    unreadable = sorted(set(problems))
    for p in unreadable:
        print(f"lit-heatmap-predict: skipped: {p}", flush=True)
    if len(unreadable) == len(images):
        return [], 0
    results = _results(rows, meta, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results))
    write_overlays(results, images, out_dir / "overlays", meta.get("skeleton"), float(cfg.draw_threshold))
    print(
        f"lit-heatmap-predict: {len(results)} instances in {len(images) - len(unreadable)} images "
        f"({len(unreadable)} unreadable) -> {out_dir / 'results.json'}",
        flush=True,
    )
    return results, len(images) - len(unreadable)


def _device(name: str | None) -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(str(name))


def predict_videos(cfg: DictConfig, predictor: KeypointPredictor | OnnxPredictor, videos: list[Path]) -> int:
    """The tables (and sidecars, filtered tables, labelled videos) of ``videos``; returns how many
    videos were readable (done now or already done)."""
    if cfg.get("filter") not in (None, "median"):
        raise ValueError(f"filter={cfg.filter!r}: use filter=median or leave it unset")
    device = _device(cfg.get("device"))
    if isinstance(predictor, torch.nn.Module):
        predictor.to(device)
    opts = VideoOptions(
        output=Path(str(cfg.output)).expanduser(),
        frames=parse_frames(cfg.get("frames")),
        backend=pick_backend(str(cfg.get("video_backend") or "auto")),
        batch_size=int(cfg.batch_size),
        device=str(device),
        padding=box_padding(cfg, predictor.meta),
        box_score_threshold=float(cfg.box_score_threshold),
        keypoint_score_threshold=float(cfg.keypoint_score_threshold),
        nms_threshold=cfg.get("nms_threshold"),
        save_video=bool(cfg.get("save_video", False)),
        pcutoff=float(cfg.get("pcutoff", 0.6)),
        filter=cfg.get("filter"),
        filter_window=int(cfg.get("filter_window", 5)),
        overwrite=bool(cfg.get("overwrite", False)),
        model_name=str(Path(str(cfg.get("model") or cfg.get("ckpt_path"))).expanduser().resolve()),
        progress=bool(cfg.get("progress", True)),
    )
    own = {output_paths(opts.output, v, opts).get("labeled", opts.output / f"{v.stem}_labeled.mp4") for v in videos}
    videos = [v for v in videos if v not in own]  # a previous run's labelled videos are outputs, not inputs
    stems: dict[str, Path] = {}
    for v in videos:
        if v.stem in stems:
            raise ValueError(f"{stems[v.stem]} and {v} would write the same {v.stem}.csv: predict them separately")
        stems[v.stem] = v
    detections = read_detections(Path(str(cfg.boxes)).expanduser()) if cfg.get("boxes") else None
    done, failed, skipped = 0, [], 0
    for v in videos:
        boxes = None if detections is None else frame_boxes(detections, v, len(videos) > 1)
        try:
            summary = analyze_video(predictor, v, opts, boxes)
        except VideoOpenError as err:
            failed.append(str(err))
            print(f"lit-heatmap-predict: skipped: {err}", flush=True)
            continue
        done += 1
        if summary is None:
            skipped += 1
            print(f"lit-heatmap-predict: {v.name}: outputs exist, skipped (overwrite=true to redo)", flush=True)
            continue
        corrupt = summary["corrupt_frames"]
        print(
            f"lit-heatmap-predict: {v.name}: {summary['frames']} frames ({len(corrupt)} corrupt"
            f"{': ' + str(corrupt) + ', written as NaN' if corrupt else ''}) in {summary['elapsed_s']:.1f} s "
            f"({summary['frames_per_s']:.1f} frames/s, {summary['backend']}, {summary['device']}) -> "
            + ", ".join(sorted(Path(p).name for p in summary["outputs"].values())),
            flush=True,
        )
    if "h5" not in output_paths(opts.output, Path("x"), opts):
        print("lit-heatmap-predict: no .h5 tables (pip install 'lit_heatmap[video]' for pandas + tables)", flush=True)
    print(
        f"lit-heatmap-predict: {len(videos)} videos: {done - skipped} predicted, {skipped} already done, "
        f"{len(failed)} unreadable -> {opts.output}",
        flush=True,
    )
    return done


def _results(rows: dict[str, list], meta: dict[str, Any], cfg: DictConfig) -> list[dict[str, Any]]:
    """COCO results after the top-down protocol (rescoring, OKS-NMS per image with the crop areas).

    ``rows``: per batch ``keypoints (B, K, 2)`` original px, ``scores (B, K)``, ``box_score (B,)``,
    ``image_id (B,)``, ``bbox (B, 4)``, ``area (B,)`` (the crop boxes', :func:`crop_areas`), and ``path``."""
    if not rows["path"]:
        return []
    cat = {key: torch.cat(value) for key, value in rows.items() if key != "path"}
    sigmas = torch.as_tensor(meta.get("sigmas") or [0.05] * cat["keypoints"].shape[1], dtype=torch.float64)
    keep, score = topdown_results(
        cat["keypoints"].double(),
        cat["scores"].double(),
        cat["box_score"],
        cat["image_id"].long(),
        cat["area"],
        sigmas,
        float(cfg.keypoint_score_threshold),
        cfg.get("nms_threshold"),
    )
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
@utils.entry_point("predict")
def main(cfg: DictConfig) -> None:
    """Console script ``lit-heatmap-predict``."""
    utils.extras(cfg)
    predict(cfg)


if __name__ == "__main__":
    main()
