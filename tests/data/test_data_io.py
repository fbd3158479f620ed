"""Image reading: colour conversions, EXIF orientation, corrupt and truncated files; header-only sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lit_heatmap.data.io import ImageReadError, image_size, read_image


def test_grayscale_png(tmp_path: Path) -> None:
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), g)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (3, 4, 3) and img.dtype == np.uint8
    assert (img[..., 0] == g).all() and (img[..., 2] == g).all()


def test_rgba_png_drops_alpha_and_is_rgb(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10  # red, almost transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.shape == (2, 2, 3)
    assert img[0, 0].tolist() == [200, 0, 0]


def test_16bit_png_scaled_to_8bit(tmp_path: Path) -> None:
    im16 = np.array([[0, 257 * 100, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), im16)
    img = read_image(tmp_path / "d.png")
    assert img.dtype == np.uint8
    assert img[0, :, 0].tolist() == [0, 100, 255]


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    """Stored 40 wide x 20 high with orientation 6 (rotate 90 CW to display): read as 20 x 40."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = (255, 0, 0)  # red band on the stored left edge -> top after rotating CW
    pil = Image.fromarray(stored)
    exif = pil.getexif()
    exif[0x0112] = 6
    pil.save(tmp_path / "e.jpg", exif=exif.tobytes(), quality=95)
    img = read_image(tmp_path / "e.jpg")
    assert img.shape == (40, 20, 3)
    assert img[2, 10, 0] > 200 and img[2, 10, 2] < 60  # top is red
    assert img[37, 10, 0] < 60  # bottom is black


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="nope.jpg"):
        read_image(tmp_path / "nope.jpg")


def test_corrupt_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.jpg"
    p.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageReadError, match="bad.jpg.*corrupt"):
        read_image(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.png.*empty"):
        read_image(p)


def test_truncated_jpeg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "full.jpg"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "full.jpg").read_bytes()
    assert read_image(tmp_path / "full.jpg").shape == (64, 64, 3)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError, match="cut.jpg.*truncated"):
        read_image(tmp_path / "cut.jpg")


def test_truncated_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "full.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def _save(path: Path, h: int, w: int, mode: str = "RGB", orientation: int | None = None) -> Path:
    shape = (h, w) if mode in ("L", "I;16") else (h, w, 3)
    pil = Image.fromarray(np.zeros(shape, np.uint16 if mode == "I;16" else np.uint8))
    if orientation is None:
        pil.save(path)
    else:
        exif = pil.getexif()
        exif[0x0112] = orientation
        pil.save(path, exif=exif.tobytes())
    return path


@pytest.mark.parametrize(
    "name, mode",
    [("a.png", "RGB"), ("a.jpg", "RGB"), ("g.png", "L"), ("g.jpg", "L"), ("d.png", "I;16"), ("t.tiff", "RGB")],
)
def test_image_size_is_width_height(tmp_path: Path, name: str, mode: str) -> None:
    path = _save(tmp_path / name, 48, 64, mode)
    assert image_size(path) == (64, 48)
    assert read_image(path).shape == (48, 64, 3)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("ext", ["jpg", "png", "tiff"])
def test_image_size_honours_exif_orientation(tmp_path: Path, ext: str, orientation: int) -> None:
    """Stored 64 wide x 48 high: a quarter turn (5-8) swaps the size, as read_image does."""
    path = _save(tmp_path / f"e.{ext}", 48, 64, orientation=orientation)
    w, h = (48, 64) if orientation >= 5 else (64, 48)
    assert image_size(path) == (w, h)
    assert read_image(path).shape == (h, w, 3)


def test_image_size_reads_only_the_header(tmp_path: Path) -> None:
    """A JPEG cut after its header still has a size (read_image would refuse it)."""
    path = _save(tmp_path / "full.jpg", 480, 640)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:700])
    assert image_size(cut) == (640, 480)


@pytest.mark.parametrize("content", [None, b"", b"this is not an image at all" * 10])
def test_image_size_unreadable_names_the_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match="bad.png"):
        image_size(path)
