"""Reduced decoding keeps the documented pixel grid on odd-sized PNGs (issue 19, item 6): pixel j of a
1/s decode covers original pixels s*j .. s*j+s-1, so the crop matrix built on that grid stays aligned."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lit_heatmap.data import read_image


@pytest.mark.parametrize("s", [2, 4, 8])
def test_odd_sized_png_reduced_decode_is_block_average(tmp_path: Path, s: int) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (961, 1283, 3), dtype=np.uint8)
    path = tmp_path / "odd.png"
    assert cv2.imwrite(str(path), img[:, :, ::-1])  # RGB on disk
    full = read_image(path)
    assert full.shape == (961, 1283, 3) and np.array_equal(full, img)
    small = read_image(path, s)
    h, w = 961 // s, 1283 // s
    assert small.shape == (h, w, 3)
    # the oracle: a plain mean over each s x s block (the last 1283 mod s columns have no full block)
    blocks = img[: h * s, : w * s].reshape(h, s, w, s, 3).astype(np.float64).mean((1, 3))
    assert np.abs(small.astype(np.float64) - blocks).max() <= 1.0
