"""``lit-heatmap-predict``: keypoints for an image or a folder of images, from a checkpoint.

Usage::

    lit-heatmap-predict ckpt_path=best.ckpt input=photo.jpg output=preds/
    lit-heatmap-predict ckpt_path=best.ckpt input=images/ output=preds/ boxes=detections.json

Writes ``<output>/results.json`` (COCO keypoint results: ``image_id``, ``category_id``,
``keypoints`` [x, y, score]*K in original image pixels, ``score``, plus ``bbox`` and ``file_name``)
and ``<output>/<image stem>.png`` overlays (keypoints and skeleton).

Boxes: a top-down model predicts one instance per box. Without ``boxes`` every image is one box
(the whole image); with ``boxes=<json>`` (a COCO detection results list, e.g.
``COCO_val2017_detections_AP_H_56_person.json``) each entry ``{"image_id" | "file_name", "bbox":
[x, y, w, h], "score"}`` is one instance; ``image_id`` matches image files by their numeric stem
(``000000000785.jpg`` -> 785).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import hydra
import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from lit_heatmap import utils, visualize
from lit_heatmap.data import KeypointTransform, collate, read_image
from lit_heatmap.train import CONFIG_PATH

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted, not recursive)."""
    p = Path(str(path)).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"input={path!r}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        return files
    raise FileNotFoundError(f"input={path!r}: no such file or folder")


def image_id_of(path: Path, index: int) -> int:
    """COCO-style numeric id from the file stem (``000000000785.jpg`` -> 785), else the index."""
    return int(path.stem) if path.stem.isdigit() else index


def load_boxes(path: str | Path, images: list[Path], threshold: float) -> dict[Path, list[tuple[list[float], float]]]:
    """Boxes per image from a COCO detection results JSON (see the module docstring)."""
    p = Path(str(path)).expanduser()
    try:
        entries = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"boxes={str(path)!r}: cannot read a JSON list of detections: {err}") from err
    if isinstance(entries, dict) and "annotations" in entries:
        entries = entries["annotations"]
    by_id = {image_id_of(f, i): f for i, f in enumerate(images)}
    by_name = {f.name: f for f in images}
    out: dict[Path, list[tuple[list[float], float]]] = defaultdict(list)
    for n, e in enumerate(entries):
        if not isinstance(e, dict) or "bbox" not in e or len(e["bbox"]) != 4:
            raise ValueError(f"boxes={str(path)!r}: entry {n} has no 'bbox': [x, y, w, h]")
        f = by_name.get(Path(str(e["file_name"])).name) if "file_name" in e else by_id.get(int(e.get("image_id", -1)))
        score = float(e.get("score", 1.0))
        if f is not None and score >= threshold and e["bbox"][2] > 0 and e["bbox"][3] > 0:
            out[f].append(([float(v) for v in e["bbox"]], score))
    return out


class BoxCrops(Dataset):
    """One sample per (image, box): the network input crop and its affine back to the image.

    Yields the CONTRACT keys a ``predict_step`` needs: ``image``, ``affine``, ``bbox``, ``score``,
    ``image_id`` (plus ``image_path`` and zero ``keypoints``/``visibility`` placeholders).
    """

    def __init__(self, items: list[tuple[Path, int, list[float], float]], transform: KeypointTransform, k: int) -> None:
        self.items, self.transform, self.k = items, transform, k

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path, image_id, bbox, score = self.items[i]
        out = self.transform(read_image(path), np.zeros((self.k, 2)), np.zeros(self.k), bbox)
        out.pop("flipped", None)
        out.update(bbox=torch.tensor(bbox, dtype=torch.float32), score=torch.tensor(score, dtype=torch.float32),
                   image_id=torch.tensor(image_id, dtype=torch.long), image_path=str(path))  # fmt: skip
        return out


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Runs the checkpoint's model on ``cfg.input``; writes results.json and overlays to ``cfg.output``.

    Returns:
        the COCO results list that was written.
    """
    from lit_heatmap.eval import load_model

    ckpt = torch.load(str(cfg.ckpt_path), map_location="cpu", weights_only=False, mmap=True) if Path(str(cfg.ckpt_path)).is_file() else {}
    meta = ckpt.get("dataset_meta") or {}
    model = load_model(cfg)
    size = getattr(model.encoding, "input_size", None) or model.encoding.heatmap.input_size
    images = list_images(cfg.input)
    boxes = load_boxes(cfg.boxes, images, float(cfg.box_score_threshold)) if cfg.get("boxes") else None
    items = []
    for i, f in enumerate(images):
        if boxes is None:
            h, w = read_image(f).shape[:2]
            items.append((f, image_id_of(f, i), [0.0, 0.0, float(w), float(h)], 1.0))
        else:
            items += [(f, image_id_of(f, i), b, s) for b, s in boxes.get(f, [])]
    # the whole image is the box: no expansion; detections: HRNet/MMPose padding
    transform = KeypointTransform(input_size=size, train=False, padding=1.0 if boxes is None else float(cfg.box_padding))
    loader = DataLoader(BoxCrops(items, transform, model.num_keypoints), batch_size=int(cfg.batch_size), collate_fn=collate)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    batches = trainer.predict(model, dataloaders=loader) if items else []

    results: list[dict[str, Any]] = []
    for b in batches or []:
        for n in range(b["keypoints"].shape[0]):
            kps = torch.cat([b["keypoints"][n].float(), b["scores"][n].float()[:, None]], -1)
            results.append({
                "image_id": int(b["image_id"][n]), "category_id": 1, "keypoints": [round(float(v), 3) for v in kps.reshape(-1)],
                "score": float(b["score"][n]), "bbox": [float(v) for v in b["bbox"][n]], "file_name": Path(b["image_path"][n]).name,
            })  # fmt: skip
    out_dir = Path(str(cfg.output)).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results))
    write_overlays(results, images, out_dir, meta.get("skeleton"), float(cfg.draw_threshold))
    print(f"lit-heatmap-predict: {len(results)} instances in {len(images)} images -> {out_dir / 'results.json'}", flush=True)
    return results


def write_overlays(results: list[dict[str, Any]], images: list[Path], out_dir: Path,
                   skeleton: list | None, threshold: float) -> list[Path]:  # fmt: skip
    """One PNG per image with every predicted instance (keypoints above ``threshold`` + skeleton)."""
    per_image = defaultdict(list)
    for r in results:
        per_image[r["file_name"]].append(r)
    written = []
    for f in images:
        img = read_image(f)
        for r in per_image.get(f.name, []):
            kps = np.asarray(r["keypoints"], dtype=np.float32).reshape(-1, 3)
            img = visualize.draw_keypoints(img, kps[:, :2], kps[:, 2] > threshold, skeleton,
                                           radius=max(2, round(max(img.shape[:2]) / 200)), thickness=max(1, round(max(img.shape[:2]) / 300)))  # fmt: skip
        path = out_dir / f"{f.stem}.png"
        cv2.imwrite(str(path), img[:, :, ::-1])
        written.append(path)
    return written


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="predict")
def main(cfg: DictConfig) -> None:
    """Console script ``lit-heatmap-predict``."""
    utils.extras(cfg)
    predict(cfg)


if __name__ == "__main__":
    main()
