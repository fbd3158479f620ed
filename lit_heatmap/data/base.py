"""Datasets over instance records: :class:`Record`, :func:`crop_sample` and :class:`KeypointDataset`.

File datasets (COCO, WFLW, DeepLabCut, images with boxes) only turn their files into :class:`Record`
objects (with the cheap checks of :mod:`lit_heatmap.data.validation`); :class:`KeypointDataset` reads,
crops and augments them. :func:`crop_sample` is the one place a sample dict is made, so that every
dataset, rendered ones included, yields the same keys (the batch contract, docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .io import ImageReadError, read_image
from .meta import DatasetMeta
from .pipeline import CropParams, KeypointTransform
from .splits import relative_path
from .validation import BadSamples, OnBadSample

__all__ = ["Record", "KeypointDataset", "crop_sample", "records_ground_truth"]


@dataclass
class Record:
    """One instance to crop.

    Attributes:
        image_path: the image file (for a rendered image: a name, e.g. ``synthetic/val/3``).
        bbox: ``(4,)`` x, y, w, h original pixels.
        keypoints: ``(K, 2)`` original pixels.
        visibility: ``(K,)`` 1 = labelled.
        image_id: integer id (COCO image id; the line number for WFLW).
        area: instance area.
        score: detector score (1 for ground-truth boxes).
        norm: normaliser for PCK/NME.
        where: location for error messages (``file:line`` / ``file, annotation id N``).
        extra: additional per-instance tensors (e.g. WFLW ``attributes``), passed on as they are.
        keypoint_extra: additional ``(K, ...)`` per-keypoint tensors (e.g. Synthetic ``occluded``),
            permuted with the keypoints when the sample is flipped.
    """

    image_path: Path | str
    bbox: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    image_id: int
    area: float
    score: float = 1.0
    norm: float = 1.0
    where: str = ""
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    keypoint_extra: dict[str, torch.Tensor] = field(default_factory=dict)


def records_ground_truth(records: list[Record]) -> dict[str, Any]:
    """COCO-style ground truth of instance records (labelled keypoints get v=2)."""
    anns = []
    for n, r in enumerate(records):
        kps = np.concatenate([r.keypoints, 2.0 * (r.visibility[:, None] > 0)], 1)
        kps[r.visibility <= 0, :2] = 0.0
        anns.append(
            {
                "id": n,
                "image_id": int(r.image_id),
                "keypoints": kps.reshape(-1).tolist(),
                "bbox": [float(v) for v in r.bbox],
                "area": float(r.area),
                "iscrowd": 0,
            }
        )
    return {"images": [{"id": i} for i in sorted({int(r.image_id) for r in records})], "annotations": anns}


def crop_sample(
    rec: Record,
    image: np.ndarray,
    meta: DatasetMeta,
    transform: KeypointTransform,
    params: CropParams | None = None,
    image_scale: int = 1,
) -> dict[str, Any]:
    """The sample dict of instance ``rec`` cropped out of ``image`` ``(H, W, 3)`` uint8 (decoded at
    ``1 / image_scale``) by ``transform`` with the crop ``params`` (drawn now when None): the batch
    contract's keys, plus ``rec.extra`` and ``rec.keypoint_extra`` (flipped with the keypoints)."""
    if params is None:
        params = transform.sample(rec.keypoints, rec.visibility, rec.bbox, meta.flip_index, meta.upper_body_ids)
    out = transform.apply(image, rec.keypoints, rec.visibility, params, meta.flip_index, image_scale)
    flipped = out.pop("flipped")
    out.update(
        bbox=torch.as_tensor(rec.bbox, dtype=torch.float32),
        area=torch.tensor(rec.area, dtype=torch.float32),
        image_id=torch.tensor(rec.image_id, dtype=torch.long),
        score=torch.tensor(rec.score, dtype=torch.float32),
        norm=torch.tensor(rec.norm, dtype=torch.float32),
        flipped=torch.tensor(flipped),
        image_path=str(rec.image_path),
    )
    out.update(rec.extra)
    for key, value in rec.keypoint_extra.items():
        out[key] = value[meta.flip_index] if flipped else value
    return out


def bbox_norm(bbox: np.ndarray) -> float:
    """PCK 'bbox' normaliser: the longer side of the box."""
    return float(max(bbox[2], bbox[3]))


class KeypointDataset(Dataset):
    """Base class: ``records`` + ``meta`` + ``transform`` -> sample dicts (docs/architecture.md).

    Args:
        records: instances (already checked).
        meta: the dataset's :class:`DatasetMeta`.
        transform: the crop/augmentation pipeline (its ``input_size`` must equal ``meta.input_size``).
        on_bad_sample: ``"raise"`` or ``"skip"`` for images that fail to decode while loading.
        bad: the setup-time :class:`BadSamples` (its count is carried on).
    """

    def __init__(
        self,
        records: list[Record],
        meta: DatasetMeta,
        transform: KeypointTransform,
        on_bad_sample: OnBadSample = "raise",
        bad: BadSamples | None = None,
    ) -> None:
        self.records = records
        self.meta = meta
        self.transform = transform
        self.bad = bad if bad is not None else BadSamples(on_bad_sample, meta.name)
        self.on_bad_sample = on_bad_sample
        self._bad_indices: set[int] = set()
        self.files_root: Path | None = None  # image_files() are relative to it (the project root, img_dir)

    def image_files(self) -> list[str]:
        """The sorted image files of this split, relative to ``files_root`` (``/`` separators)."""
        return sorted({relative_path(r.image_path, self.files_root) for r in self.records})

    def reorder_keypoints(self, names: Sequence[str]) -> None:
        """Put the keypoints in the order of ``names`` (the same set as ``meta.keypoint_names``): every
        record's keypoints, visibility and per-keypoint extras, and the meta's names, sigmas, flip pairs
        and skeleton, so that channel ``k`` is ``names[k]`` (e.g. a checkpoint's order).

        Raises:
            ValueError: ``names`` is not a permutation of this dataset's keypoint names.
        """
        old = list(self.meta.keypoint_names)
        if sorted(names) != sorted(old) or len(set(old)) != len(old):
            raise ValueError(f"{self.meta.name}: keypoint names {list(names)} are not a reordering of {old}")
        perm = [old.index(n) for n in names]  # new k <- old perm[k]
        inv = {o: k for k, o in enumerate(perm)}
        for rec in self.records:
            rec.keypoints, rec.visibility = rec.keypoints[perm], rec.visibility[perm]
            rec.keypoint_extra = {k: v[perm] for k, v in rec.keypoint_extra.items()}
        m = self.meta
        self.meta = dataclasses.replace(
            m,
            keypoint_names=list(names),
            sigmas=[m.sigmas[o] for o in perm],
            flip_index=None if m.flip_index is None else [inv[m.flip_index[o]] for o in perm],
            skeleton=[(inv[i], inv[j]) for i, j in m.skeleton],
            upper_body_ids=sorted(inv[i] for i in m.upper_body_ids),
        )

    @property
    def num_skipped(self) -> int:
        """Samples skipped so far in this process (setup + loading)."""
        return self.bad.count

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, index: int, reduce: int = 1) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB for record ``index`` (decoded at ``1 / reduce``)."""
        return read_image(self.records[index].image_path, reduce)

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.records)
        if not -n <= index < n:
            raise IndexError(f"{self.meta.name}: index {index} out of range for {n} samples")
        index %= n
        for attempt in range(n):
            i = (index + attempt) % n
            if i in self._bad_indices:
                continue
            rec = self.records[i]
            params = self.transform.sample(
                rec.keypoints, rec.visibility, rec.bbox, self.meta.flip_index, self.meta.upper_body_ids
            )
            reduce = self.transform.decode_reduction(params)
            try:
                image = self.load_image(i, reduce)
            except ImageReadError as err:
                self._bad_indices.add(i)
                self.bad.report(f"{err} (needed by {rec.where})" if rec.where else str(err), ImageReadError)
                continue
            return self.sample_from(rec, image, params, reduce)
        raise ImageReadError(f"{self.meta.name}: every image failed to load ({self.bad.count} skipped)")

    def ground_truth(self) -> dict[str, Any]:
        """The split's ground truth as a COCO-style dict (``images``, ``annotations`` with ``keypoints``
        ``[x, y, v]*K``, ``bbox``, ``area``, ``iscrowd``), for ``KeypointAP``: one annotation per record."""
        return records_ground_truth(self.records)

    def sample_from(
        self, rec: Record, image: np.ndarray, params: CropParams | None = None, image_scale: int = 1
    ) -> dict[str, Any]:
        """:func:`crop_sample` with this dataset's meta and transform."""
        return crop_sample(rec, image, self.meta, self.transform, params, image_scale)
