"""The crop -> original mapping an exported file documents in words equals the pipeline's own matrices."""

from __future__ import annotations

import numpy as np
import pytest

from lit_heatmap.data.geometry import apply_affine, bbox_to_center_size, crop_matrix, invert_affine
from lit_heatmap.inference import CROP_TO_ORIGINAL, PIXEL_CONVENTION


def documented_to_original(uv: np.ndarray, box: list[float], input_size: tuple[int, int], padding: float) -> np.ndarray:
    """CROP_TO_ORIGINAL, written out as a consumer would from the metadata text alone."""
    x, y, w, h = box
    w_in, h_in = input_size
    if w / h > w_in / h_in:
        h = w * h_in / w_in
    else:
        w = h * w_in / h_in
    sw, sh = w * padding, h * padding
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return np.stack([cx + (uv[:, 0] - (w_in - 1) / 2) * sw / w_in, cy + (uv[:, 1] - (h_in - 1) / 2) * sh / h_in], -1)


@pytest.mark.parametrize(
    ("box", "input_size", "padding"),
    [
        ([10.0, 20.0, 50.0, 120.0], (192, 256), 1.25),  # tall box: widened
        ([0.0, 0.0, 640.0, 480.0], (320, 256), 1.0),  # a whole landscape frame
        ([33.5, 7.25, 300.0, 90.0], (256, 256), 1.25),  # wide box: heightened
    ],
)
def test_documented_mapping_equals_the_crop_matrix(box, input_size, padding) -> None:
    uv = np.random.default_rng(0).uniform(-0.5, np.array(input_size) - 0.5, (50, 2))
    center, size = bbox_to_center_size(box, input_size, padding)
    expected = apply_affine(uv, invert_affine(crop_matrix(center, size, input_size)))
    np.testing.assert_allclose(documented_to_original(uv, box, input_size, padding), expected, atol=1e-9)
    assert "(W_in - 1)/2" in CROP_TO_ORIGINAL and "(x=j, y=i)" in PIXEL_CONVENTION
