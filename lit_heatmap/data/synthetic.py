"""The embedded default dataset: procedural stick figures on textured backgrounds.

Each sample is rendered with OpenCV from ``(seed, index)`` alone, so it is deterministic, needs no
download and costs well under a millisecond at 128 px. The figure is a front-facing articulated
body (14 joints = the keypoints): limb segments have distinct colours (upper arm, forearm, thigh,
shin...), left and right limbs share colours and are told apart only by the side of the body they
hang from, so a horizontal flip with the name-derived left/right swap stays a valid sample. Limbs
never cross the body's midline. Random occluders (background-coloured blobs) hide a minority of
the joints; those keypoints stay labelled and are marked in ``occluded (K,)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from lit_heatmap.facts import COCO_KEYPOINT_NAMES

from .base import Record, crop_sample, records_ground_truth
from .meta import DatasetMeta, resolve_flip_index
from .pipeline import KeypointTransform, with_default_sizes

__all__ = ["Synthetic", "SYNTHETIC_KEYPOINT_NAMES", "render_figure"]

SYNTHETIC_KEYPOINT_NAMES: list[str] = ["head", "neck", *COCO_KEYPOINT_NAMES[5:]]  # COCO's body from the shoulders down
SYNTHETIC_SKELETON: list[tuple[int, int]] = [
    (0, 1),
    (1, 2),
    (1, 3),
    (2, 4),
    (4, 6),
    (3, 5),
    (5, 7),
    (2, 8),
    (3, 9),
    (8, 9),
    (8, 10),
    (10, 12),
    (9, 11),
    (11, 13),
]
SYNTHETIC_SIGMAS: list[float] = [
    0.06,
    0.06,
    0.079,
    0.079,
    0.072,
    0.072,
    0.062,
    0.062,
    0.107,
    0.107,
    0.087,
    0.087,
    0.089,
    0.089,
]
# segment colours (RGB), jittered per sample; both sides share them
_COLOURS = {
    "torso": (215, 200, 50),
    "head": (240, 190, 150),
    "upper_arm": (225, 50, 50),
    "forearm": (40, 200, 70),
    "thigh": (50, 90, 230),
    "shin": (200, 60, 210),
    "end": (250, 250, 250),
}
_SHIFT = 4  # cv2 sub-pixel drawing: coordinates in 1/16 px
_ONE = 1 << _SHIFT


def _grey(rng: np.random.Generator, lo: float, hi: float, tint: float = 15.0) -> tuple[float, float, float]:
    """A low-saturation colour: a grey level in [lo, hi] plus a small per-channel tint."""
    g = rng.uniform(lo, hi)
    r, gg, b = g + rng.normal(0, tint, 3)
    return min(max(r, 0.0), 255.0), min(max(gg, 0.0), 255.0), min(max(b, 0.0), 255.0)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


def _background(rng: np.random.Generator, w: int, h: int, num_distractors: tuple[int, int]) -> np.ndarray:
    """Low-saturation textured background with a few distractor shapes, ``(h, w, 3)`` uint8."""
    grey = rng.uniform(40, 200)
    coarse = grey + rng.normal(0, 35, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 1))
    coarse = coarse + rng.normal(0, 12, coarse.shape[:2] + (3,))  # mild tint
    img = cv2.resize(np.clip(coarse, 0, 255).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(num_distractors[0], num_distractors[1] + 1))):
        col = _grey(rng, 20, 235)
        a, b = rng.uniform(0, [w, h]), rng.uniform(0, [w, h])
        kind = rng.integers(3)
        if kind == 0:
            cv2.line(img, _pt(a), _pt(b), col, int(rng.integers(1, 4)), cv2.LINE_AA, _SHIFT)
        elif kind == 1:
            cv2.rectangle(img, _pt(a), _pt(b), col, -1, cv2.LINE_AA, _SHIFT)
        else:
            cv2.circle(img, _pt(a), int(rng.uniform(3, 0.2 * min(w, h)) * _ONE), col, -1, cv2.LINE_AA, _SHIFT)
    return img


def _pose(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Joints ``(14, 2)`` in a body frame (torso length 1, x = image right = the figure's left,
    y down), and the head radius."""
    k = np.zeros((14, 2))
    k[0] = (0.0, -rng.uniform(0.35, 0.45))
    head_r = rng.uniform(0.22, 0.28)
    sh, hip = rng.uniform(0.33, 0.45), rng.uniform(0.17, 0.27)
    sh_y = rng.uniform(0.04, 0.12)
    for side, s in ((0, 1.0), (1, -1.0)):  # left (image right), right (image left)
        k[2 + side] = (s * sh, sh_y)
        k[8 + side] = (s * hip, 1.0)
        a1 = np.deg2rad(rng.uniform(10, 170))
        a2 = np.clip(a1 + np.deg2rad(rng.uniform(-80, 80)), np.deg2rad(5), np.deg2rad(175))
        k[4 + side] = k[2 + side] + rng.uniform(0.5, 0.65) * np.array([s * np.sin(a1), np.cos(a1)])
        k[6 + side] = k[4 + side] + rng.uniform(0.45, 0.6) * np.array([s * np.sin(a2), np.cos(a2)])
        l1 = np.deg2rad(rng.uniform(0, 40))
        l2 = np.clip(l1 + np.deg2rad(rng.uniform(-35, 35)), 0.0, np.deg2rad(60))
        k[10 + side] = k[8 + side] + rng.uniform(0.75, 0.9) * np.array([s * np.sin(l1), np.cos(l1)])
        k[12 + side] = k[10 + side] + rng.uniform(0.7, 0.85) * np.array([s * np.sin(l2), np.cos(l2)])
    return k, head_r


def render_figure(
    rng: np.random.Generator,
    image_size: Sequence[int] = (128, 128),
    occluder_prob: float = 0.5,
    num_distractors: tuple[int, int] = (2, 6),
    noise: float = 6.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render one sample.

    Returns:
        ``image (h, w, 3)`` uint8 RGB, ``keypoints (14, 2)`` px, ``occluded (14,)`` bool,
        ``bbox (4,)`` x, y, w, h of the figure (joints, head and limb thickness).
    """
    w, h = int(image_size[0]), int(image_size[1])
    img = _background(rng, w, h, num_distractors)
    body, head_r = _pose(rng)
    t = np.deg2rad(rng.uniform(-30, 30))
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    body = body @ rot.T
    lo = np.minimum(body.min(0), body[0] - head_r)
    hi = np.maximum(body.max(0), body[0] + head_r)
    scale = rng.uniform(0.6, 0.85) / max((hi - lo)[0] / w, (hi - lo)[1] / h)
    thick = max(2.0, 0.12 * scale)
    size = (hi - lo) * scale
    room = np.maximum(np.array([w, h]) - size - 2 * thick, 0.0)
    origin = np.array([thick, thick]) + rng.uniform(0.15, 0.85, 2) * room - lo * scale
    kps = body * scale + origin
    jitter = np.clip(np.array(list(_COLOURS.values()), float) + rng.normal(0, 15, (len(_COLOURS), 3)), 0, 255)
    cols = {n: tuple(float(v) for v in c) for n, c in zip(_COLOURS, jitter)}
    th = int(round(thick))
    torso = np.stack([kps[2], kps[3], kps[9], kps[8]])
    for a, b, c in ((8, 10, "thigh"), (9, 11, "thigh"), (10, 12, "shin"), (11, 13, "shin")):
        cv2.line(img, _pt(kps[a]), _pt(kps[b]), cols[c], th, cv2.LINE_AA, _SHIFT)
    cv2.fillConvexPoly(img, np.array([_pt(p) for p in torso], np.int32), cols["torso"], cv2.LINE_AA, _SHIFT)
    cv2.line(img, _pt(kps[1]), _pt(kps[0]), cols["torso"], th, cv2.LINE_AA, _SHIFT)
    for a, b, c in ((2, 4, "upper_arm"), (3, 5, "upper_arm"), (4, 6, "forearm"), (5, 7, "forearm")):
        cv2.line(img, _pt(kps[a]), _pt(kps[b]), cols[c], th, cv2.LINE_AA, _SHIFT)
    for j in (6, 7, 12, 13):
        cv2.circle(img, _pt(kps[j]), int(0.8 * thick * _ONE), cols["end"], -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, _pt(kps[0]), int(head_r * scale * _ONE), cols["head"], -1, cv2.LINE_AA, _SHIFT)
    occluded = np.zeros(14, dtype=bool)
    if rng.random() < occluder_prob:
        mask = np.zeros((h, w), np.uint8)
        centre = kps[rng.integers(14)] + rng.normal(0, 0.04 * min(w, h), 2)
        axes = rng.uniform(0.05, 0.09, 2) * min(w, h)
        ang = float(rng.uniform(0, 180))
        box = rng.random() < 0.5
        col = _grey(rng, 30, 225)
        for target, colour in ((img, col), (mask, 255)):
            if box:
                pts = cv2.boxPoints(((centre[0], centre[1]), (2 * axes[0], 2 * axes[1]), ang))
                cv2.fillConvexPoly(target, np.array([_pt(p) for p in pts], np.int32), colour, cv2.LINE_AA, _SHIFT)
            else:
                cv2.ellipse(
                    target,
                    _pt(centre),
                    (int(axes[0] * _ONE), int(axes[1] * _ONE)),
                    ang,
                    0,
                    360,
                    colour,
                    -1,
                    cv2.LINE_AA,
                    _SHIFT,
                )
        ij = np.clip(np.round(kps).astype(int), 0, [w - 1, h - 1])
        occluded = mask[ij[:, 1], ij[:, 0]] > 127
    if noise > 0:
        a = max(1, int(round(noise * 3**0.5)))  # uniform grain in [-a, a] has std ~ noise
        grain = rng.integers(-a, a + 1, img.shape, dtype=np.int16)
        img = np.clip(img.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    bbox = np.array([*(lo * scale + origin - thick), *(size + 2 * thick)], dtype=np.float64)
    return img, kps, occluded, bbox


class Synthetic(Dataset):
    """Procedural stick figures; sample ``i`` depends only on ``(seed, split, i)``.

    Args:
        num_samples: dataset length.
        seed: stream seed.
        split: a name mixed into the stream (``"train"``, ``"val"``...), so splits with the same
            seed never share a sample.
        input_size: network input ``(w, h)``.
        image_size: rendered canvas ``(w, h)``; defaults to ``input_size``.
        transform: the crop + augmentation pipeline (``dataset.transform``; the default run's recipe is
            in ``conf/dataset/synthetic.yaml``); None: a deterministic crop of ``input_size``.
        occluder_prob: probability of one occluder per image.
        num_distractors: (min, max) background shapes.
        noise: Gaussian pixel noise std.

    Samples carry the batch-contract keys (docs/architecture.md) plus ``occluded (14,)`` bool.
    """

    def __init__(
        self,
        num_samples: int = 2000,
        seed: int = 0,
        split: str = "train",
        input_size: Sequence[int] = (128, 128),
        image_size: Sequence[int] | None = None,
        transform: KeypointTransform | None = None,
        occluder_prob: float = 0.5,
        num_distractors: Sequence[int] = (2, 6),
        noise: float = 6.0,
    ) -> None:
        if int(num_samples) <= 0:
            raise ValueError(f"Synthetic: num_samples must be positive, got {num_samples}")
        transform = with_default_sizes(transform, None, input_size)
        flip = resolve_flip_index(SYNTHETIC_KEYPOINT_NAMES)
        meta = DatasetMeta(
            name="synthetic",
            num_keypoints=14,
            keypoint_names=list(SYNTHETIC_KEYPOINT_NAMES),
            skeleton=list(SYNTHETIC_SKELETON),
            flip_index=flip.index,
            sigmas=list(SYNTHETIC_SIGMAS),
            input_size=transform.input_size,
            upper_body_ids=list(range(8)),
            padding=transform.padding,
            flip_note=flip.summary,
        )
        self.meta, self.transform = meta, transform
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.split = str(split)
        self._split_key = int.from_bytes(hashlib.sha256(self.split.encode()).digest()[:4], "little")
        self.image_size = tuple(int(v) for v in (image_size or transform.input_size))
        self.occluder_prob = float(occluder_prob)
        self.num_distractors = (int(num_distractors[0]), int(num_distractors[1]))
        self.noise = float(noise)

    def __len__(self) -> int:
        return self.num_samples

    def render(self, index: int) -> tuple[np.ndarray, Record]:
        """The original image ``(h, w, 3)`` uint8 and the instance record of sample ``index``."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"Synthetic index {index} out of range 0..{self.num_samples - 1}")
        rng = np.random.default_rng([self.seed, self._split_key, index])
        img, kps, occluded, bbox = render_figure(
            rng, self.image_size, self.occluder_prob, self.num_distractors, self.noise
        )
        rec = Record(
            image_path=f"synthetic/{self.split}/{index}",
            bbox=bbox,
            keypoints=kps,
            visibility=np.ones(14),
            image_id=index,
            area=float(bbox[2] * bbox[3]),
            norm=float(max(bbox[2], bbox[3])),
            where=f"synthetic sample {index}",
            keypoint_extra={"occluded": torch.from_numpy(occluded)},
        )
        return img, rec

    def __getitem__(self, index: int) -> dict[str, Any]:
        img, rec = self.render(int(index))
        return crop_sample(rec, img, self.meta, self.transform)

    def ground_truth(self) -> dict[str, Any]:
        """The split's ground truth as a COCO-style dict (for ``KeypointAP``): every sample is rendered."""
        return records_ground_truth([self.render(i)[1] for i in range(self.num_samples)])
