"""COCO keypoint annotations: the JSON reader shared with CocoFormat, and `CocoKeypoints` (top-down
COCO person keypoints with GT or detected boxes, HRNet/MMPose style).

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

from .base import KeypointDataset, Record, bbox_norm
from .geometry import is_whole_frame
from .io import ImageReadError, image_size
from .meta import DatasetMeta, resolve_flip_index
from .pipeline import KeypointTransform, fit_transform
from .validation import (
    BadSampleError,
    BadSamples,
    OnBadSample,
    check_bbox,
    check_keypoints,
    check_root,
)

__all__ = ["CocoKeypoints", "load_json", "coco_meta", "coco_records", "coco_ground_truth", "whole_frame_sizes"]

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
        sig = [float(s) for s in sigmas]
        if len(sig) != k:
            raise ValueError(f"sigmas has {len(sig)} entries but category {cat['id']} of {ann_file} has {k} keypoints")
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
) -> list[Record]:
    """Ground-truth instances: non-crowd annotations of the category with at least one labelled
    keypoint (``num_keypoints > 0``), each checked; problems go to ``bad`` with the annotation id."""
    k = meta.num_keypoints
    images = _images(data, ann_file, img_dir)
    exists: dict[Path, bool] = {}
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


class CocoFileDataset(KeypointDataset):
    """A dataset read from a COCO keypoint file (``ann_file``, ``category_id``): adds :meth:`targets`."""

    ann_file: Path
    category_id: int
    image_ids: set[int] | None = None  # the images of this split (None: every image of the file)
    _ground_truth: dict[str, Any] | None = None

    def ground_truth(self) -> dict[str, Any]:
        """Every image of this split of ``ann_file`` with all its annotations of the category (see
        :func:`coco_ground_truth`); read from the file once, then cached."""
        if self._ground_truth is None:
            self._ground_truth = coco_ground_truth(
                load_json(self.ann_file), self.ann_file, self.category_id, self.image_ids, self.bad.skipped
            )
        return self._ground_truth


class CocoKeypoints(CocoFileDataset):
    """Top-down COCO person keypoints.

    Args:
        root: COCO root holding ``annotations/`` and the image folders.
        split: ``"train2017"``, ``"val2017"``...; picks the default ann file and image folder.
        ann_file: overrides ``root/annotations/person_keypoints_{split}.json``.
        img_dir: overrides ``root/{split}``.
        det_file: detection results file; when given (and ``use_gt_bbox`` is False) the instances
            are its boxes with ``score >= det_score_threshold`` (keypoints unknown: visibility 0).
        det_score_threshold: minimum detector score.
        use_gt_bbox: GT boxes (default: True unless det_file is given).
        input_size: network input ``(w, h)`` (HRNet: 192 x 256).
        transform: the crop + augmentation pipeline (``dataset.transform``, the HRNet/MMPose recipe in
            ``conf/dataset/coco.yaml``); None: a deterministic crop of ``input_size``.
        flip_pairs, sigmas: override what the category gives.
        on_bad_sample: ``"raise"`` or ``"skip"``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "val2017",
        ann_file: str | Path | None = None,
        img_dir: str | Path | None = None,
        det_file: str | Path | None = None,
        det_score_threshold: float = 0.0,
        use_gt_bbox: bool | None = None,
        input_size: Sequence[int] = (192, 256),
        transform: KeypointTransform | None = None,
        flip_pairs: Sequence[Sequence[int]] | None = None,
        sigmas: Sequence[float] | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        root_path = check_root(root, "CocoKeypoints", "coco (the folder with annotations/ and val2017/)")
        ann = Path(ann_file) if ann_file else root_path / "annotations" / f"person_keypoints_{split}.json"
        images = Path(img_dir) if img_dir else root_path / split
        transform = fit_transform(transform, None, input_size)
        data = load_json(ann)
        meta, self.category_id = coco_meta(
            data, ann, transform.input_size, None, flip_pairs, sigmas, "coco", transform.padding
        )
        bad = BadSamples(on_bad_sample, str(ann))
        use_gt = (det_file is None) if use_gt_bbox is None else bool(use_gt_bbox)
        if use_gt:
            records = coco_records(data, ann, images, meta, self.category_id, bad)
        else:
            if det_file is None:
                raise ValueError("CocoKeypoints: use_gt_bbox=False needs det_file=")
            records = detection_records(
                Path(det_file), data, ann, images, meta, det_score_threshold, bad, self.category_id
            )
        bad.summary()
        self.ann_file, self.img_dir = ann, images
        super().__init__(records, meta, transform, on_bad_sample, bad)
