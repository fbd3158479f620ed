"""COCO keypoint files: the reader shared by :class:`CocoKeypoints` and :class:`CocoFormat`
(:mod:`.coco_dataset`, :mod:`.coco_format`): meta from the category, checked :class:`Record` lists from
the annotations or a detection file, and the ground truth of a split.

Plain ``json`` dicts in the pycocotools layout (``images``, ``annotations``, ``categories``); no second
COCO API. Every annotation is checked at setup (numbers, box, keypoints, image reference, file
existence) without decoding any image.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lit_heatmap.facts import COCO_KEYPOINT_NAMES, COCO_SIGMAS, COCO_UPPER_BODY

from .base import Record, bbox_norm
from .geometry import is_whole_frame
from .io import ImageReadError, image_size
from .meta import DatasetMeta, keypoint_sigmas, resolve_flip_index
from .validation import (
    BadSampleError,
    BadSamples,
    check_bbox,
    check_keypoints,
)

__all__ = ["load_json", "coco_meta", "coco_records", "detection_records", "coco_ground_truth", "whole_frame_sizes"]

log = logging.getLogger("lit_heatmap.data")


def load_json(path: str | Path, what: str = "annotation file") -> Any:
    """``json.load`` with errors that name the file (missing file, syntax error with line/column)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise BadSampleError(f"{path}:{err.lineno}:{err.colno}: invalid JSON ({err.msg})") from err


def coco_meta(
    data: dict[str, Any],
    ann_file: Path,
    input_size: Sequence[int],
    category_id: int | None = None,
    flip_pairs: Sequence[Sequence[int | str]] | None = None,
    sigmas: Sequence[float] | None = None,
    name: str | None = None,
    padding: float = 1.25,
) -> tuple[DatasetMeta, int]:
    """Meta from the keypoint category (names, skeleton; flip pairs from the config or derived from
    left/right names; sigmas from the config, COCO's for the 17 COCO names, else uniform 0.05).

    Returns:
        the meta and the category id used.
    """
    if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations", "categories")):
        raise BadSampleError(f"{ann_file}: not a COCO file (needs 'images', 'annotations', 'categories')")
    cats = [c for c in data["categories"] if c.get("keypoints")]
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
    if not cats:
        which = f"id {category_id}" if category_id is not None else "any category"
        raise BadSampleError(f"{ann_file}: no category with a 'keypoints' list ({which})")
    cat = cats[0]
    names = [str(n) for n in cat["keypoints"]]
    k = len(names)
    skeleton = []
    for edge in cat.get("skeleton") or []:
        a, b = int(edge[0]) - 1, int(edge[1]) - 1  # COCO skeletons are 1-based
        if not (0 <= a < k and 0 <= b < k):
            raise BadSampleError(f"{ann_file}: category {cat['id']} skeleton edge {list(edge)} out of range 1..{k}")
        skeleton.append((a, b))
    try:
        flip = resolve_flip_index(names, flip_pairs)
    except ValueError as err:
        raise ValueError(f"{ann_file}, category {cat['id']}: {err}") from err
    if sigmas is not None:
        sig = keypoint_sigmas(sigmas, k, f"keypoints (category {cat['id']} of {ann_file})")
    elif tuple(names) == COCO_KEYPOINT_NAMES:
        sig = list(COCO_SIGMAS)
    else:
        sig = [0.05] * k
    meta = DatasetMeta(
        name=name or str(cat.get("name", "coco")),
        num_keypoints=k,
        keypoint_names=names,
        skeleton=skeleton,
        flip_index=flip.index,
        sigmas=sig,
        input_size=(int(input_size[0]), int(input_size[1])),
        upper_body_ids=list(COCO_UPPER_BODY) if tuple(names) == COCO_KEYPOINT_NAMES else [],
        category_id=int(cat["id"]),
        padding=float(padding),
        flip_note=flip.summary,
    )
    return meta, int(cat["id"])


def whole_frame_sizes(data: dict[str, Any], records: Sequence[Record]) -> list[tuple[int, int]] | None:
    """The ``(w, h)`` of each record's image when every record's box is its whole image (a
    single-animal lab frame), else None. Sizes come from the file's ``width``/``height`` or the image header."""
    known = {int(img["id"]): (img.get("width"), img.get("height")) for img in data["images"] if "id" in img}
    sizes = []
    for rec in records:
        w, h = known.get(int(rec.image_id), (None, None))
        if not (w and h):
            try:
                w, h = image_size(rec.image_path)
            except ImageReadError:
                return None
        if not is_whole_frame(rec.bbox, float(w), float(h)):
            return None
        sizes.append((int(w), int(h)))
    return sizes or None


def _images(data: dict[str, Any], ann_file: Path, img_dir: Path) -> dict[int, dict[str, Any]]:
    out = {}
    for img in data["images"]:
        if "id" not in img or "file_name" not in img:
            raise BadSampleError(f"{ann_file}: image entry {img!r:.80} lacks 'id' or 'file_name'")
        out[int(img["id"])] = {**img, "path": img_dir / str(img["file_name"])}
    return out


def coco_records(
    data: dict[str, Any],
    ann_file: Path,
    img_dir: Path,
    meta: DatasetMeta,
    category_id: int,
    bad: BadSamples,
    image_ids: set[int] | None = None,
    check_images: bool = False,
) -> list[Record]:
    """Ground-truth instances: non-crowd annotations of the category with at least one labelled
    keypoint (``num_keypoints > 0``), each checked; problems go to ``bad`` with the annotation id.
    ``check_images``: also read each image's size from its header, and report an image whose size
    differs from the JSON's ``width``/``height``, and labelled keypoints or a box outside the image
    (pixel centres at integers: ``[-0.5, W - 0.5]``)."""
    k = meta.num_keypoints
    images = _images(data, ann_file, img_dir)
    exists: dict[Path, bool] = {}
    sizes: dict[Path, tuple[int, int] | str] = {}
    records, no_kps, crowd = [], 0, 0
    for n, ann in enumerate(data["annotations"]):
        if ann.get("category_id", category_id) != category_id:
            continue
        where = f"{ann_file}, annotation id {ann.get('id', f'#{n}')}"
        ann_id = ann.get("id") if isinstance(ann.get("id"), int) else None

        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        img = images.get(int(ann.get("image_id", -1)))
        if img is None:
            bad.report(f"{where}: unknown image_id {ann.get('image_id')!r} (not in 'images')", annotation_id=ann_id)
            continue
        if image_ids is not None and int(img["id"]) not in image_ids:
            continue
        raw = np.asarray(ann.get("keypoints", []), dtype=np.float64)
        if raw.size != 3 * k:
            bad.report(f"{where}: {raw.size} keypoint values, expected 3 x {k}", annotation_id=ann_id)
            continue
        raw = raw.reshape(k, 3)
        kps, vis = raw[:, :2], raw[:, 2]
        if (msg := check_keypoints(kps, vis, where)) is not None:
            bad.report(msg, annotation_id=ann_id)
            continue
        labelled = int((vis > 0).sum())
        if "num_keypoints" in ann and int(ann["num_keypoints"]) != labelled:
            bad.report(
                f"{where}: num_keypoints={ann['num_keypoints']} but {labelled} keypoints are labelled",
                annotation_id=ann_id,
            )
            continue
        if labelled == 0:
            no_kps += 1
            continue
        if (msg := check_bbox(ann.get("bbox"), where)) is not None:
            bad.report(msg, annotation_id=ann_id)
            continue
        path = img["path"]
        if path not in exists:
            exists[path] = path.is_file()
        if not exists[path]:
            bad.report(f"{where}: image file {path} not found", annotation_id=ann_id)
            continue
        bbox = np.asarray(ann["bbox"], dtype=np.float64)
        if check_images and (msg := _outside(img, path, kps, vis, bbox, where, sizes)) is not None:
            bad.report(msg, annotation_id=ann_id)
            continue
        records.append(
            Record(
                image_path=path,
                bbox=bbox,
                keypoints=kps,
                visibility=(vis > 0).astype(np.float64),
                image_id=int(img["id"]),
                area=float(ann["area"]) if ann.get("area") is not None else float(bbox[2] * bbox[3]),
                norm=bbox_norm(bbox),
                where=where,
            )
        )
    if no_kps or crowd:
        log.info("%s: left out %d crowd and %d zero-keypoint instances", ann_file, crowd, no_kps)
    if not records:
        raise ValueError(
            f"{ann_file}: no usable instances ({len(data['annotations'])} annotations: {crowd} crowd, "
            f"{no_kps} with zero labelled keypoints, {bad.count} bad)"
        )
    return records


def _outside(
    img: dict[str, Any],
    path: Path,
    kps: np.ndarray,
    vis: np.ndarray,
    bbox: np.ndarray,
    where: str,
    sizes: dict[Path, tuple[int, int] | str],
) -> str | None:
    """The problem of an annotation against its image's real size (read once per image), or None."""
    if path not in sizes:
        try:
            w, h = image_size(path)
        except ImageReadError:
            sizes[path] = ""  # unreadable: reported when loading it decodes it, as for every dataset
        else:
            jw, jh = img.get("width"), img.get("height")
            sizes[path] = (w, h)
            if jw and jh and (int(jw), int(jh)) != (w, h):
                sizes[path] = f"the JSON says image id {img['id']} is {jw}x{jh} but {path} is {w}x{h}"
    size = sizes[path]
    if isinstance(size, str):
        return f"{where}: {size}" if size else None
    w, h = size
    out = (vis > 0) & ((kps < -0.5).any(1) | (kps[:, 0] > w - 0.5) | (kps[:, 1] > h - 0.5))
    if out.any():
        k = int(np.flatnonzero(out)[0])
        return f"{where}: keypoint {k} at {kps[k].tolist()} lies outside the {w}x{h} image {path}"
    x, y, bw, bh = bbox.tolist()
    if x >= w - 0.5 or y >= h - 0.5 or x + bw <= -0.5 or y + bh <= -0.5:
        return f"{where}: bbox {bbox.tolist()} lies outside the {w}x{h} image {path}"
    return None


def detection_records(
    det_file: Path,
    data: dict[str, Any],
    ann_file: Path,
    img_dir: Path,
    meta: DatasetMeta,
    score_threshold: float,
    bad: BadSamples,
    category_id: int = 1,
) -> list[Record]:
    """Instances from a detection results file (``[{image_id, category_id, bbox, score}]``, as in
    HRNet/MMPose ``COCO_val2017_detections_AP_H_56_person.json``) with ``score >= score_threshold``."""
    dets = load_json(det_file, "detection file")
    if not isinstance(dets, list):
        raise BadSampleError(f"{det_file}: expected a JSON list of detections")
    images = _images(data, ann_file, img_dir)
    k = meta.num_keypoints
    records: list[Record] = []
    for n, det in enumerate(dets):
        where = f"{det_file}, detection #{n}"
        if det.get("category_id", category_id) != category_id:
            continue
        score = float(det.get("score", 1.0))
        if not np.isfinite(score):
            bad.report(f"{where}: score {det.get('score')!r} is not a number")
            continue
        if score < score_threshold:
            continue
        img = images.get(int(det.get("image_id", -1)))
        if img is None:
            bad.report(f"{where}: unknown image_id {det.get('image_id')!r} (not in {ann_file})")
            continue
        if (msg := check_bbox(det.get("bbox"), where)) is not None:
            bad.report(msg)
            continue
        if not img["path"].is_file():
            bad.report(f"{where}: image file {img['path']} not found")
            continue
        bbox = np.asarray(det["bbox"], dtype=np.float64)
        records.append(
            Record(
                img["path"],
                bbox,
                np.zeros((k, 2)),
                np.zeros(k),
                int(img["id"]),
                float(bbox[2] * bbox[3]),
                score,
                bbox_norm(bbox),
                where,
            )
        )
    if not records:
        raise ValueError(f"{det_file}: no detections with score >= {score_threshold} ({len(dets)} in file)")
    return records


def coco_ground_truth(
    data: dict[str, Any],
    ann_file: Path,
    category_id: int,
    image_ids: set[int] | None = None,
    skipped: set[int] = frozenset(),
) -> dict[str, Any]:
    """The ground truth for ``KeypointAP`` as a COCO-style dict: every image of the file (or of
    ``image_ids``, a split of it) and every annotation of the category on them, crowd regions and
    persons without labelled keypoints included (COCOeval ignores those), except the annotation ids
    ``skipped`` as bad at setup. A missing ``area`` is the box area, as in training (one warning).
    """
    images = [{"id": int(i["id"])} for i in data["images"] if image_ids is None or int(i["id"]) in image_ids]
    keep = {i["id"] for i in images}
    anns, no_area = [], 0
    for ann in data["annotations"]:
        if ann.get("category_id", category_id) != category_id or int(ann.get("image_id", -1)) not in keep:
            continue
        if ann.get("id") in skipped:
            continue
        if ann.get("area") is None:
            no_area += 1
            ann = {**ann, "area": float(ann["bbox"][2]) * float(ann["bbox"][3])}
        anns.append(ann)
    if no_area:
        log.warning(
            "%s: %d annotation(s) have no 'area'; OKS uses their box area (w * h), as training does", ann_file, no_area
        )
    return {"images": images, "annotations": anns}
