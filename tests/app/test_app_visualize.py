"""Overlay and heatmap drawing used by the W&B callback, predict and the notebook."""

from __future__ import annotations

import numpy as np
import torch

from lit_heatmap import visualize


def test_output_heatmaps_for_each_head_kind() -> None:
    hm = torch.rand(2, 3, 8, 6)
    assert visualize.output_heatmaps(hm) is hm
    x, y = torch.zeros(2, 3, 12), torch.zeros(2, 3, 16)
    x[..., 5], y[..., 9] = 10.0, 10.0
    maps = visualize.output_heatmaps((x, y))
    assert maps.shape == (2, 3, 16, 12)
    flat = maps[0, 1].argmax()
    assert (int(flat // 12), int(flat % 12)) == (9, 5)  # row = y bin, column = x bin
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(2, 3))
    assert visualize.output_heatmaps((hm, (x, y))) is hm


def test_draw_keypoints_marks_the_given_pixels_only() -> None:
    img = np.zeros((40, 50, 3), np.uint8)
    out = visualize.draw_keypoints(
        img, torch.tensor([[10.0, 20.0], [30.0, 5.0]]), mask=torch.tensor([1.0, 0.0]), skeleton=[(0, 1)], radius=2
    )
    assert tuple(out[20, 10]) == visualize.PRED_COLOR  # (x=10, y=20) is row 20, column 10
    assert out[5, 30].sum() == 0  # masked keypoint: no dot, and no edge to it
    assert out.sum() > 0 and img.sum() == 0  # drew on a copy


def test_to_rgb_and_heatmap_image_shapes() -> None:
    image = torch.stack([torch.full((4, 6), v, dtype=torch.uint8) for v in (10, 128, 250)])  # a batch image
    rgb = visualize.to_rgb(image)
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8 and rgb[2, 3].tolist() == [10, 128, 250]
    big, scale = visualize.upscale(rgb, 32)
    assert big.shape == (32, 48, 3) and scale == 8.0
    blended = visualize.heatmap_image(torch.rand(3, 2, 3), big)
    assert blended.shape == big.shape
    grid = visualize.image_grid([rgb] * 5, ncols=2, pad=1)
    assert grid.shape == (3 * 4 + 2, 2 * 6 + 1, 3)
