"""Images without annotations, for prediction: the image list, one id scheme, and crops of boxes.

A top-down model predicts one instance per box: the whole image (no padding), or the boxes of a
detection results file (COCO format, ``[{"image_id" | "file_name", "bbox": [x, y, w, h], "score"}]``,
padded like training crops). :class:`ImageBoxes` is a :class:`KeypointDataset` over those records, so
crops are made exactly as in training and evaluation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import KeypointDataset, Record
from .io import ImageReadError, image_size
from .meta import DatasetMeta
from .pipeline import KeypointTransform

__all__ = ["IMAGE_SUFFIXES", "ImageBoxes", "image_ids", "list_images", "box_records", "read_detections"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

log = logging.getLogger("lit_heatmap.data")


def list_images(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted by name, not recursive).

    Raises:
        FileNotFoundError: no such file or folder, or a folder without images (naming ``input=``).
    """
    p = Path(str(path)).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"input={str(path)!r}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    raise FileNotFoundError(f"input={str(path)!r}: no such file or folder")


def image_ids(images: Sequence[Path]) -> tuple[list[int], bool]:
    """One id scheme for a run: the numeric file stems when every stem is a distinct number (COCO names,
    ``000000000785.jpg`` -> 785), else every image's position in the sorted list.

    Returns:
        the ids and whether they are the numeric names.
    """
    stems = [f.stem for f in images]
    if all(s.isdigit() for s in stems) and len({int(s) for s in stems}) == len(stems):
        return [int(s) for s in stems], True
    return list(range(len(images))), False


def read_detections(path: Path) -> list[dict[str, Any]]:
    """The detections list of a ``boxes=`` JSON file (a list, or a dict with ``annotations``)."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"boxes={str(path)!r}: cannot read a JSON list of detections: {err}") from err
    if isinstance(entries, dict) and "annotations" in entries:
        entries = entries["annotations"]
    if not isinstance(entries, list):
        raise ValueError(f"boxes={str(path)!r}: expected a JSON list of detections")
    return entries


def box_records(
    images: Sequence[Path], num_keypoints: int, boxes: str | Path | None = None, score_threshold: float = 0.0
) -> tuple[list[Record], list[str]]:
    """One record per box to predict: the whole image when ``boxes`` is None, else each detection of the
    ``boxes`` file with ``score >= score_threshold`` (matched by ``file_name``, or by ``image_id`` when
    the images' ids are their numeric names).

    Returns:
        the records and the problems found (images whose header cannot be read: skipped, reported).

    Raises:
        ValueError: a malformed detection (naming the file and entry), or detections by ``image_id``
            when the image names are not numeric.
    """
    ids, numeric = image_ids(images)
    problems: list[str] = []
    sizes: dict[Path, tuple[int, int]] = {}
    for f in images:
        try:
            sizes[f] = image_size(f)
        except ImageReadError as err:
            problems.append(str(err))
    zeros = np.zeros((num_keypoints, 2)), np.zeros(num_keypoints)
    if boxes is None:
        return [
            Record(f, np.array([0.0, 0.0, w, h]), *zeros, image_id=i, area=float(w * h), where=str(f))
            for f, i in zip(images, ids)
            if f in sizes
            for w, h in [sizes[f]]
        ], problems
    path = Path(str(boxes)).expanduser()
    by_name = {f.name: (f, i) for f, i in zip(images, ids)}
    by_id = {i: (f, i) for f, i in zip(images, ids)}
    records = []
    for n, det in enumerate(read_detections(path)):
        where = f"{path}, detection #{n}"
        bbox = det.get("bbox") if isinstance(det, dict) else None
        if bbox is None or len(bbox) != 4 or not np.all(np.isfinite(np.asarray(bbox, dtype=np.float64))):
            raise ValueError(f"{where}: needs 'bbox': [x, y, w, h] with finite numbers, got {det!r:.80}")
        if "file_name" in det:
            hit = by_name.get(Path(str(det["file_name"])).name)
        elif not numeric:
            raise ValueError(
                f"{where}: matches images by 'image_id', but the image names are not all numbers; "
                "give 'file_name' in the detections"
            )
        else:
            hit = by_id.get(int(det.get("image_id", -1)))
        score = float(det.get("score", 1.0))
        if hit is None or hit[0] not in sizes or score < score_threshold or bbox[2] <= 0 or bbox[3] <= 0:
            continue
        box = np.asarray(bbox, dtype=np.float64)
        records.append(
            Record(hit[0], box, *zeros, image_id=hit[1], area=float(box[2] * box[3]), score=score, where=where)
        )
    return records, problems


class ImageBoxes(KeypointDataset):
    """The network-input crops of ``records`` (see :func:`box_records`) with their ``affine`` back to the
    image, ``bbox``, ``score`` (box score), ``image_id``, ``image_path`` and ``valid``: False (and a blank
    image) for an image that fails to decode, so a caller can report it and go on.

    Args:
        records: the boxes.
        meta: the model's dataset meta (K, names).
        transform: the evaluation :class:`KeypointTransform` (the model's input size, the box padding).
    """

    def __init__(self, records: list[Record], meta: DatasetMeta, transform: KeypointTransform) -> None:
        super().__init__(records, meta, transform)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rec = self.records[index]
        try:
            sample = self.sample_from(rec, self.load_image(index))
            sample["valid"] = torch.tensor(True)
        except ImageReadError as err:
            log.warning("cannot read %s: %s", rec.image_path, err)
            sample = self.sample_from(rec, np.zeros((1, 1, 3), np.uint8))
            sample["valid"] = torch.tensor(False)
        sample.pop("flipped", None)
        return sample
