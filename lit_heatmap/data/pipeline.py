"""The crop + augmentation pipeline of a top-down sample (:class:`KeypointTransform`).

Random scale, rotation, shift and the horizontal flip are folded into one crop matrix
(:mod:`lit_heatmap.data.geometry`), so the image is warped once (``cv2.warpAffine``); albumentations
does the photometric part (colour jitter, blur, coarse dropout). The image leaves as uint8; the model
normalises it on the device. albumentations 2.0.8 has no flip-pair support, so a flip permutes the
keypoints with the dataset's ``flip_index`` here. The recipes of the datasets are in
``conf/dataset/*.yaml`` (``dataset.transform``).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import albumentations as A
import cv2
import numpy as np
import torch

from .geometry import (
    DEFAULT_INPUT_SIZE,
    apply_affine,
    bbox_to_center_size,
    crop_matrix,
    invert_affine,
    whole_frame_input_size,
)

__all__ = ["CropParams", "KeypointTransform", "with_default_sizes"]


@dataclass
class CropParams:
    """One drawn crop: ``center (2,)`` and ``size (2,)`` in original px, rotation (deg), flip."""

    center: np.ndarray
    size: np.ndarray
    rotation: float = 0.0
    flip: bool = False


class KeypointTransform:
    """Crop (+ augmentation) of one instance: image, keypoints and the affine back to the original.

    The recipes of the datasets are spelt out in ``conf/dataset/*.yaml`` (``dataset.transform``).

    Args:
        input_size: network input ``(w, h)``; None: chosen by the dataset (:func:`with_default_sizes`).
        train: random augmentation on/off. Off = the deterministic crop used for val/test.
        padding: box expansion; None: chosen by the dataset (1.0 for whole frames, else 1.25).
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
        reduced_decode: in training, decode JPEGs at 1/2, 1/4 or 1/8 when the crop shrinks the
            image that much (see :meth:`decode_reduction`).
    """

    def __init__(
        self,
        input_size: Sequence[int] | None = (192, 256),
        train: bool = False,
        padding: float | None = None,
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
        reduced_decode: bool = True,
    ) -> None:
        if input_size is not None and (len(input_size) != 2 or min(int(v) for v in input_size) <= 0):
            raise ValueError(f"input_size must be (w, h) with positive ints, got {input_size}")
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
        self.train = bool(train)
        self.padding = None if padding is None else float(padding)
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
                        num_holes_range=(1, 3),
                        hole_height_range=(0.05, 0.15),
                        hole_width_range=(0.05, 0.15),
                        fill=0,
                        p=dropout_prob,
                    )
                )
        # the image stays uint8: the model normalises it on the device (mean/std are model buffers)
        self.photometric = A.Compose(photometric) if photometric else None
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
        padding = 1.25 if self.padding is None else self.padding  # None: with_default_sizes fills it
        center, size = bbox_to_center_size(bbox, self.input_size, padding)
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
            dict with ``image (3, H_in, W_in)`` uint8 RGB, ``keypoints (K, 2)`` input px,
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
        return {
            "image": torch.from_numpy(np.ascontiguousarray(warped.transpose(2, 0, 1))),
            "keypoints": torch.from_numpy(out_kps.astype(np.float32)),
            "visibility": torch.from_numpy((vis * inside).astype(np.float32)),
            "affine": torch.from_numpy(invert_affine(m).astype(np.float32)),
            "orig_keypoints": torch.from_numpy(orig_kps.astype(np.float32)),
            "orig_visibility": torch.from_numpy(orig_vis.astype(np.float32)),
            "flipped": flip,
        }


def with_default_sizes(
    transform: KeypointTransform | None,
    frame_sizes: Sequence[Sequence[int]] | None = None,
    input_size: Sequence[int] | None = None,
) -> KeypointTransform:
    """The dataset's pipeline with its unset sizes (``input_size``, ``padding``) filled in.

    Args:
        transform: the configured pipeline (``dataset.transform``); None: a deterministic crop.
        frame_sizes: ``(N, 2)`` image ``(w, h)`` of the instances when every box is its whole frame,
            else None.
        input_size: used when ``transform`` is None.

    Returns:
        ``transform`` (a copy when something was chosen) with ``input_size`` (whole frames:
        :func:`whole_frame_input_size`; else :data:`DEFAULT_INPUT_SIZE`) and ``padding`` (whole
        frames: 1.0, else 1.25) set where they were None.
    """
    if transform is None:
        transform = KeypointTransform(input_size, train=False)
    whole = frame_sizes is not None and len(frame_sizes) > 0
    if transform.input_size is not None and transform.padding is not None:
        return transform
    out = copy.copy(transform)
    if out.input_size is None:
        out.input_size = whole_frame_input_size(frame_sizes) if whole else DEFAULT_INPUT_SIZE
    if out.padding is None:
        out.padding = 1.0 if whole else 1.25
    return out
