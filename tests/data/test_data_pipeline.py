"""Crop geometry (hand-computed values) and the augmentation pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lit_heatmap.data import (
    KeypointTransform,
    apply_affine,
    bbox_to_center_size,
    crop_matrix,
    invert_affine,
)


def test_bbox_aspect_fix_and_padding() -> None:
    # a 100x100 box for a 192x256 (w, h) input: too wide for 3:4, so h = 100 * 4/3, then x1.25
    c, s = bbox_to_center_size([10, 20, 100, 100], (192, 256), 1.25)
    np.testing.assert_allclose(c, [60, 70])
    np.testing.assert_allclose(s, [125.0, 100 * 4 / 3 * 1.25])
    # a tall box keeps its height, widens
    c, s = bbox_to_center_size([0, 0, 30, 200], (192, 256), 1.0)
    np.testing.assert_allclose(s, [150.0, 200.0])


def test_crop_matrix_maps_box_edges_to_input_edges() -> None:
    # box [10, 50] x [20, 100] (w 40, h 80) onto a 4x8 input: edges go to -0.5 and W-0.5 / H-0.5
    m = crop_matrix([30, 60], [40, 80], (4, 8))
    pts = np.array([[10, 20], [50, 100], [30, 60]], float)
    np.testing.assert_allclose(apply_affine(pts, m), [[-0.5, -0.5], [3.5, 7.5], [1.5, 3.5]], atol=1e-12)
    # pixel-centre check: scale 10 -> original x = 15 (centre of the first 10-px cell) -> input x 0
    np.testing.assert_allclose(apply_affine(np.array([[15.0, 25.0]]), m), [[0.0, 0.0]], atol=1e-12)


def test_crop_matrix_rotation_and_flip_golden() -> None:
    # 90 deg counter-clockwise about the centre of a unit-scale 11x11 crop: a point right of the
    # centre ends above it (y decreases), as cv2.getRotationMatrix2D does
    m = crop_matrix([5, 5], [11, 11], (11, 11), rotation=90.0)
    np.testing.assert_allclose(apply_affine(np.array([[8.0, 5.0]]), m), [[5.0, 2.0]], atol=1e-12)
    import cv2

    np.testing.assert_allclose(m, cv2.getRotationMatrix2D((5.0, 5.0), 90.0, 1.0), atol=1e-12)
    mf = crop_matrix([5, 5], [11, 11], (11, 11), flip=True)
    np.testing.assert_allclose(apply_affine(np.array([[0.0, 3.0], [10.0, 4.0]]), mf), [[10.0, 3.0], [0.0, 4.0]])


def test_invert_affine_round_trip() -> None:
    m = crop_matrix([123.4, 56.7], [88.0, 117.3], (192, 256), rotation=33.0, flip=True)
    pts = np.random.default_rng(0).uniform(0, 300, (20, 2))
    np.testing.assert_allclose(apply_affine(apply_affine(pts, m), invert_affine(m)), pts, atol=1e-9)


def _image(h: int = 100, w: int = 120) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_eval_transform_keeps_uint8_and_maps_keypoints() -> None:
    img = np.full((100, 120, 3), 128, np.uint8)
    kps = np.array([[60.0, 50.0], [10.0, 10.0], [200.0, 50.0]])
    t = KeypointTransform((32, 32), train=False, padding=1.0)
    out = t(img, kps, np.array([1, 1, 1]), [40, 30, 40, 40])
    # uint8 RGB out: the model normalises on the device
    assert out["image"].shape == (3, 32, 32) and out["image"].dtype == torch.uint8
    assert out["image"][:, 16, 16].tolist() == [128, 128, 128]
    # box [40, 80] x [30, 70] -> scale 32/40 = 0.8; (60, 50) -> (20 * 0.8 - 0.5, 20 * 0.8 - 0.5)
    np.testing.assert_allclose(out["keypoints"][0].numpy(), [15.5, 15.5], atol=1e-5)
    # outside keypoints keep their coordinates but lose visibility; K is unchanged
    assert out["keypoints"].shape == (3, 2)
    np.testing.assert_allclose(out["keypoints"][2].numpy(), [(200 - 40) * 0.8 - 0.5, 15.5], atol=1e-4)
    assert out["visibility"].tolist() == [1.0, 0.0, 0.0]
    assert out["orig_visibility"].tolist() == [1.0, 1.0, 1.0]
    assert out["flipped"] is False


def test_train_transform_keeps_affine_consistent() -> None:
    """Under random scale/rotation/shift/flip, `affine` still maps keypoints onto orig_keypoints."""
    t = KeypointTransform(
        (48, 64),
        train=True,
        rotation=40,
        rotation_prob=1.0,
        shift_factor=0.1,
        shift_prob=1.0,
        flip_prob=0.5,
        dropout_prob=0.5,
    )
    kps = np.random.default_rng(2).uniform(20, 90, (6, 2))
    flips = 0
    torch.manual_seed(0)
    for _ in range(20):
        out = t(_image(), kps, np.ones(6), [20, 20, 70, 70], flip_index=[1, 0, 3, 2, 4, 5])
        back = apply_affine(out["keypoints"].double().numpy(), out["affine"].double().numpy())
        np.testing.assert_allclose(back, out["orig_keypoints"].double().numpy(), atol=1e-3)
        flips += out["flipped"]
    assert 0 < flips < 20


def test_flip_swaps_left_right() -> None:
    """flip_prob=1, no other augmentation: keypoint k lands at the mirror of its partner."""
    kw = dict(scale_factor=0.0, rotation=0.0, color_jitter=0.0, blur_prob=0.0)
    plain = KeypointTransform((40, 40), train=True, flip_prob=0.0, **kw)
    flip = KeypointTransform((40, 40), train=True, flip_prob=1.0, **kw)
    img, kps = _image(), np.array([[30.0, 40.0], [70.0, 45.0], [50.0, 60.0]])  # left, right, centre
    a = plain(img, kps, np.ones(3), [20, 20, 60, 60], flip_index=[1, 0, 2])
    b = flip(img, kps, np.ones(3), [20, 20, 60, 60], flip_index=[1, 0, 2])
    assert b["flipped"] is True
    mirrored = a["keypoints"].numpy()[[1, 0, 2]].copy()
    mirrored[:, 0] = 39 - mirrored[:, 0]
    np.testing.assert_allclose(b["keypoints"].numpy(), mirrored, atol=1e-4)
    np.testing.assert_allclose(b["orig_keypoints"].numpy(), kps[[1, 0, 2]])
    # the image is the mirror image (same bilinear samples, mirrored)
    diff = (b["image"] - a["image"].flip(-1)).abs().max().item()
    assert diff < 0.05


def test_worker_seeds_give_different_augmentations() -> None:
    t = KeypointTransform((32, 32), train=True, rotation_prob=1.0)
    kps = np.array([[40.0, 42.0]])  # off the crop centre, so rotation and scale move it
    torch.manual_seed(1)
    a = t(_image(), kps, np.ones(1), [30, 30, 40, 40])["keypoints"]
    torch.manual_seed(2)
    b = t(_image(), kps, np.ones(1), [30, 30, 40, 40])["keypoints"]
    torch.manual_seed(1)
    t2 = KeypointTransform((32, 32), train=True, rotation_prob=1.0)
    c = t2(_image(), kps, np.ones(1), [30, 30, 40, 40])["keypoints"]
    assert not torch.allclose(a, b)
    assert torch.allclose(a, c)  # reproducible from the torch seed


def test_bad_input_size() -> None:
    with pytest.raises(ValueError, match="input_size"):
        KeypointTransform((0, 32))


def test_reduced_decode_gives_the_same_crop(tmp_path) -> None:
    """A crop warped from the 1/2 and 1/4 JPEG decodes matches the full-resolution crop (smooth
    image: only the low-pass differs) and a shifted image would not."""
    import cv2

    from lit_heatmap.data import CropParams
    from lit_heatmap.data.io import read_image

    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    smooth = np.stack([128 + 100 * np.sin(xx / 37.0), 128 + 100 * np.cos(yy / 29.0), (xx + yy) / 4.5], -1)
    cv2.imwrite(str(tmp_path / "s.jpg"), smooth.clip(0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    t = KeypointTransform((48, 64), train=True, reduced_decode=True)
    t.photometric = None
    params = CropParams(np.array([300.0, 220.0]), np.array([330.0, 440.0]), rotation=17.0)
    assert t.decode_reduction(params) == 4  # shrinks 6.9x
    kps, vis = np.array([[250.0, 200.0]]), np.ones(1)
    full = t.apply(read_image(tmp_path / "s.jpg"), kps, vis, params)
    for f in (2, 4):
        small = read_image(tmp_path / "s.jpg", reduce=f)
        assert small.shape == (480 // f, 640 // f, 3)
        red = t.apply(small, kps, vis, params, image_scale=f)
        # uint8 images: a mean difference of 0.03 normalised units (std 0.226) is ~1.7 grey levels
        assert (red["image"].float() - full["image"].float()).abs().mean() < 0.03 * 0.226 * 255
        torch.testing.assert_close(red["keypoints"], full["keypoints"])
        torch.testing.assert_close(red["affine"], full["affine"])
        off = t.apply(small, kps, vis, params, image_scale=1)  # the wrong geometry is far off
        assert (off["image"].float() - full["image"].float()).abs().mean() > 0.2 * 0.226 * 255
    assert KeypointTransform((48, 64), train=False).decode_reduction(params) == 1  # eval: full decode


def test_half_body_crops_upper_or_lower_body() -> None:
    """half_body_prob=1 (no other augmentation): the crop is the box of the upper (0..10) or lower
    (11..16) keypoints, aspect-fixed and expanded 1.5x, so that half spans 1/1.5 of the input."""
    rng = np.random.default_rng(0)
    kps = np.stack([rng.uniform(100, 200, 17), np.r_[rng.uniform(50, 150, 11), rng.uniform(200, 350, 6)]], 1)
    t = KeypointTransform(
        (64, 64),
        train=True,
        half_body_prob=1.0,
        scale_factor=0.0,
        rotation=0.0,
        flip_prob=0.0,
        color_jitter=0.0,
        blur_prob=0.0,
    )
    seen = set()
    torch.manual_seed(0)
    for _ in range(12):
        out = t(_image(400, 300), kps, np.ones(17), [90, 40, 120, 320], upper_body_ids=list(range(11)))
        k = out["keypoints"].numpy()
        for name, ids in (("upper", slice(0, 11)), ("lower", slice(11, 17))):
            part = k[ids]
            extent = (part.max(0) - part.min(0)).max()
            if part.min() > -0.5 and part.max() < 63.5 and abs(extent - 64 / 1.5) < 1e-3:
                seen.add(name)
    assert seen == {"upper", "lower"}
