"""Top-down crop geometry and the training/eval pipeline.

Geometry follows CONTRACT.md: the centre of pixel column ``j``, row ``i`` is ``(x=j, y=i)`` and an
image of width W spans ``[-0.5, W - 0.5]``. The crop matrix maps the (expanded, aspect-fixed) box
``[cx - w/2, cx + w/2] x [cy - h/2, cy + h/2]`` exactly onto the input ``[-0.5, W_in - 0.5] x
[-0.5, H_in - 0.5]``. Random scale, rotation, shift and the horizontal flip are folded into that one
matrix, so the image is warped once (``cv2.warpAffine``); albumentations does the photometric part
(colour jitter, blur, coarse dropout) and the normalisation. albumentations 2.0.8 has no flip-pair
support, so a flip permutes the keypoints with the dataset's ``flip_index`` here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

import albumentations as A
import cv2
import numpy as np
import torch

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropParams",
    "KeypointTransform",
    "make_transform",
    "bbox_to_center_size",
    "crop_matrix",
    "invert_affine",
    "apply_affine",
]

@dataclass
class CropParams:
    """One drawn crop: ``center (2,)`` and ``size (2,)`` in original px, rotation (deg), flip."""

    center: np.ndarray
    size: np.ndarray
    rotation: float = 0.0
    flip: bool = False


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def bbox_to_center_size(
    bbox: Sequence[float], input_size: Sequence[int], padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """HRNet/MMPose box handling: fix the box to the input aspect ratio, then expand it.

    Args:
        bbox: ``(x, y, w, h)`` in original pixels.
        input_size: network input ``(w, h)``.
        padding: expansion factor (1.25 in HRNet and MMPose).

    Returns:
        ``center (2,)`` and ``size (2,)`` (w, h) of the crop region, float64, original pixels.
    """
    x, y, w, h = (float(v) for v in bbox)
    aspect = float(input_size[0]) / float(input_size[1])
    center = np.array([x + 0.5 * w, y + 0.5 * h], dtype=np.float64)
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], dtype=np.float64) * padding


def crop_matrix(
    center: Sequence[float],
    size: Sequence[float],
    output_size: Sequence[int],
    rotation: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """The ``(2, 3)`` float64 matrix mapping original pixels to input pixels.

    The region of ``size = (w, h)`` around ``center`` lands exactly on the ``output_size = (W, H)``
    input; ``rotation`` (degrees, counter-clockwise as seen, like ``cv2.getRotationMatrix2D``) turns
    the content about the centre; ``flip`` mirrors the result horizontally (``x -> W - 1 - x``).
    """
    out_w, out_h = float(output_size[0]), float(output_size[1])
    sx, sy = out_w / float(size[0]), out_h / float(size[1])
    t = np.deg2rad(rotation)
    cos, sin = np.cos(t), np.sin(t)
    lin = np.array([[sx * cos, sx * sin], [-sy * sin, sy * cos]], dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    offset = np.array([(out_w - 1.0) / 2.0, (out_h - 1.0) / 2.0]) - lin @ c
    m = np.concatenate([lin, offset[:, None]], axis=1)
    if flip:
        m[0] = -m[0]
        m[0, 2] += out_w - 1.0
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a ``(2, 3)`` affine matrix (float64)."""
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map ``points (..., 2)`` by the ``(2, 3)`` matrix ``m``."""
    return points @ m[:, :2].T + m[:, 2]


class KeypointTransform:
    """Crop (+ augmentation) of one instance: image, keypoints and the affine back to the original.

    Args:
        input_size: network input ``(w, h)``.
        train: random augmentation on/off. Off = the deterministic crop used for val/test.
        padding: box expansion (1.25).
        scale_factor: crop size times ``U(1 - s, 1 + s)`` (COCO: 0.25).
        rotation: rotation ``U(-r, r)`` degrees, applied with ``rotation_prob`` (COCO: 40, 0.6).
        shift_factor, shift_prob: centre shift ``U(-f, f) * size`` with that probability.
        flip_prob: horizontal flip probability (needs the dataset's flip_index).
        half_body_prob: MMPose half-body crop probability (needs upper_body_ids); 0 = off.
        half_body_min_keypoints: labelled keypoints needed before half-body is tried.
        color_jitter, color_jitter_prob: albumentations ColorJitter strength (brightness, contrast,
            saturation) and probability.
        hue: ColorJitter hue range (0 = off: hue jitter costs 2.5x the rest of ColorJitter).
        blur_prob: probability of a Gaussian or motion blur.
        dropout_prob: probability of CoarseDropout (1-3 holes, 5-15 % of the side).
        mean, std: normalisation (ImageNet).
        reduced_decode: in training, decode JPEGs at 1/2, 1/4 or 1/8 when the crop shrinks the
            image that much (see :meth:`decode_reduction`).
    """

    def __init__(
        self,
        input_size: Sequence[int] = (192, 256),
        train: bool = False,
        padding: float = 1.25,
        scale_factor: float = 0.25,
        rotation: float = 40.0,
        rotation_prob: float = 0.6,
        shift_factor: float = 0.0,
        shift_prob: float = 0.0,
        flip_prob: float = 0.5,
        half_body_prob: float = 0.0,
        half_body_min_keypoints: int = 8,
        half_body_padding: float = 1.5,
        color_jitter: float = 0.2,
        color_jitter_prob: float = 0.5,
        hue: float = 0.0,
        blur_prob: float = 0.1,
        dropout_prob: float = 0.0,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        reduced_decode: bool = True,
    ) -> None:
        if len(input_size) != 2 or min(int(v) for v in input_size) <= 0:
            raise ValueError(f"input_size must be (w, h) with positive ints, got {input_size}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.train = bool(train)
        self.padding = float(padding)
        self.scale_factor = float(scale_factor)
        self.rotation = float(rotation)
        self.rotation_prob = float(rotation_prob)
        self.shift_factor = float(shift_factor)
        self.shift_prob = float(shift_prob)
        self.flip_prob = float(flip_prob)
        self.half_body_prob = float(half_body_prob)
        self.half_body_min_keypoints = int(half_body_min_keypoints)
        self.half_body_padding = float(half_body_padding)
        self.reduced_decode = bool(reduced_decode)
        photometric: list[Any] = []
        if self.train:
            if color_jitter > 0 and color_jitter_prob > 0:
                cj = float(color_jitter)
                photometric.append(A.ColorJitter(cj, cj, cj, float(hue), p=color_jitter_prob))
            if blur_prob > 0:
                photometric.append(
                    A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 5))], p=blur_prob)
                )
            if dropout_prob > 0:
                photometric.append(
                    A.CoarseDropout(
                        num_holes_range=(1, 3), hole_height_range=(0.05, 0.15),
                        hole_width_range=(0.05, 0.15), fill=0, p=dropout_prob,
                    )
                )  # fmt: skip
        # normalisation is done in torch on the CHW tensor (half the cost of A.Normalize + transpose)
        self.photometric = A.Compose(photometric) if photometric else None
        self._mean = torch.tensor([255.0 * m for m in mean], dtype=torch.float32)[:, None, None]
        self._inv_std = torch.tensor([1.0 / (255.0 * v) for v in std], dtype=torch.float32)[:, None, None]
        self._seed: int | None = None
        self._rng = np.random.default_rng(0)

    # per-process random state: DataLoader seeds torch differently in every worker and epoch,
    # so numpy and albumentations follow torch.initial_seed() (forked copies would repeat).
    def _generator(self) -> np.random.Generator:
        seed = torch.initial_seed()
        if seed != self._seed:
            self._seed = seed
            self._rng = np.random.default_rng(seed % (2**63))
            if self.photometric is not None:
                self.photometric.set_random_state(self._rng, random.Random(seed))
        return self._rng

    def _half_body(
        self, kps: np.ndarray, vis: np.ndarray, upper: Sequence[int], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray] | None:
        labelled = np.flatnonzero(vis > 0)
        if len(labelled) < self.half_body_min_keypoints:
            return None
        up_set = set(int(i) for i in upper)
        up = [i for i in labelled if i in up_set]
        low = [i for i in labelled if i not in up_set]
        chosen = up if (rng.random() < 0.5 and len(up) >= 2) else low
        if len(chosen) < 2:
            chosen = up if len(up) >= 2 else []
        if len(chosen) < 2:
            return None
        pts = kps[chosen]
        lo, hi = pts.min(0), pts.max(0)
        box = (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        return bbox_to_center_size(box, self.input_size, self.half_body_padding)

    def sample(
        self,
        keypoints: np.ndarray,
        visibility: np.ndarray,
        bbox: Sequence[float],
        flip_index: Sequence[int] | None = None,
        upper_body_ids: Sequence[int] | None = None,
    ) -> CropParams:
        """Draw the crop of one instance (deterministic when ``train`` is False)."""
        kps = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        vis = np.asarray(visibility, dtype=np.float64).reshape(-1)
        center, size = bbox_to_center_size(bbox, self.input_size, self.padding)
        rotation, flip = 0.0, False
        if self.train:
            rng = self._generator()
            if self.half_body_prob > 0 and upper_body_ids and rng.random() < self.half_body_prob:
                hb = self._half_body(kps, vis, upper_body_ids, rng)
                if hb is not None:
                    center, size = hb
            if self.shift_factor > 0 and rng.random() < self.shift_prob:
                center = center + rng.uniform(-self.shift_factor, self.shift_factor, 2) * size
            if self.scale_factor > 0:
                size = size * rng.uniform(1.0 - self.scale_factor, 1.0 + self.scale_factor)
            if self.rotation > 0 and rng.random() < self.rotation_prob:
                rotation = float(rng.uniform(-self.rotation, self.rotation))
            flip = flip_index is not None and self.flip_prob > 0 and bool(rng.random() < self.flip_prob)
        return CropParams(center, size, rotation, flip)

    def decode_reduction(self, params: CropParams) -> int:
        """JPEG decode reduction (1, 2, 4 or 8) for a training crop that shrinks the image at least
        that much: libjpeg's DCT scaling is several times faster than a full decode and is a proper
        low-pass, so the one warp then aliases less. 1 for eval transforms or ``reduced_decode=False``."""
        if not (self.train and self.reduced_decode):
            return 1
        shrink = min(params.size[0] / self.input_size[0], params.size[1] / self.input_size[1])
        return next((f for f in (8, 4, 2) if shrink >= f), 1)

    def __call__(
        self,
        image: np.ndarray,
        keypoints: np.ndarray,
        visibility: np.ndarray,
        bbox: Sequence[float],
        flip_index: Sequence[int] | None = None,
        upper_body_ids: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """Draw a crop with :meth:`sample` and :meth:`apply` it (arguments as there)."""
        params = self.sample(keypoints, visibility, bbox, flip_index, upper_body_ids)
        return self.apply(image, keypoints, visibility, params, flip_index)

    def apply(
        self,
        image: np.ndarray,
        keypoints: np.ndarray,
        visibility: np.ndarray,
        params: CropParams,
        flip_index: Sequence[int] | None = None,
        image_scale: int = 1,
    ) -> dict[str, Any]:
        """Crop one instance.

        Args:
            image: ``(H, W, 3)`` uint8 RGB original image, or the original decoded at
                ``1 / image_scale`` (pixel ``j`` of it covers original pixels ``s*j .. s*j + s-1``).
            keypoints: ``(K, 2)`` original pixels.
            visibility: ``(K,)`` 1 = labelled, 0 = not.
            params: the crop from :meth:`sample`.
            flip_index: K ints, needed when ``params.flip``.
            image_scale: the decode reduction of ``image`` (1 = full resolution).

        Returns:
            dict with ``image (3, H_in, W_in)`` float32 normalised, ``keypoints (K, 2)`` input px,
            ``visibility (K,)`` (labelled and inside the input), ``affine (2, 3)`` input -> original,
            ``orig_keypoints (K, 2)``, ``orig_visibility (K,)`` (permuted like the keypoints when
            flipped, so ``affine`` maps ``keypoints[k]`` onto ``orig_keypoints[k]``), ``flipped``.
        """
        kps = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
        vis = (np.asarray(visibility, dtype=np.float64).reshape(-1) > 0).astype(np.float64)
        flip = params.flip
        if flip and flip_index is None:
            raise ValueError("KeypointTransform.apply: params.flip needs a flip_index")
        m = crop_matrix(params.center, params.size, self.input_size, params.rotation, flip)
        m_img = m
        if image_scale != 1:  # reduced pixel j sits at original s*j + (s-1)/2
            f = float(image_scale)
            m_img = np.concatenate([m[:, :2] * f, (m[:, :2] @ np.full(2, (f - 1) / 2) + m[:, 2])[:, None]], 1)
        warped = cv2.warpAffine(
            image, m_img, self.input_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        out_kps = apply_affine(kps, m)
        orig_kps, orig_vis = kps, vis
        if flip:
            perm = np.asarray(flip_index, dtype=np.int64)
            out_kps, vis, orig_kps, orig_vis = out_kps[perm], vis[perm], kps[perm], vis[perm]
        w, h = self.input_size
        inside = (out_kps[:, 0] >= -0.5) & (out_kps[:, 0] <= w - 0.5)
        inside &= (out_kps[:, 1] >= -0.5) & (out_kps[:, 1] <= h - 0.5)
        if self.photometric is not None:
            warped = self.photometric(image=warped)["image"]
        image = torch.from_numpy(np.ascontiguousarray(warped.transpose(2, 0, 1))).float()
        return {
            "image": image.sub_(self._mean).mul_(self._inv_std),
            "keypoints": torch.from_numpy(out_kps.astype(np.float32)),
            "visibility": torch.from_numpy((vis * inside).astype(np.float32)),
            "affine": torch.from_numpy(invert_affine(m).astype(np.float32)),
            "orig_keypoints": torch.from_numpy(orig_kps.astype(np.float32)),
            "orig_visibility": torch.from_numpy(orig_vis.astype(np.float32)),
            "flipped": flip,
        }


def make_transform(
    input_size: Sequence[int],
    augment: bool,
    defaults: dict[str, Any],
    aug: dict[str, Any] | None = None,
    transform: KeypointTransform | None = None,
) -> KeypointTransform:
    """A dataset's pipeline: ``transform`` when given, else a :class:`KeypointTransform` with the
    dataset's literature ``defaults`` updated by the user's ``aug`` overrides (``dataset.aug.*``).

    Raises:
        ValueError: an ``aug`` key that KeypointTransform does not take (the message lists them).
    """
    if transform is not None:
        return transform
    kwargs = dict(defaults)
    if aug:
        import inspect

        allowed = set(inspect.signature(KeypointTransform.__init__).parameters) - {"self", "input_size", "train"}
        unknown = sorted(set(aug) - allowed)
        if unknown:
            raise ValueError(f"unknown augmentation option(s) {unknown} in dataset.aug; allowed: {sorted(allowed)}")
        kwargs.update(dict(aug))
    return KeypointTransform(input_size, train=augment, **kwargs)
