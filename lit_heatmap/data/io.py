"""Image reading: RGB uint8 out of any JPEG/PNG/TIFF, with EXIF orientation honoured.

Grayscale is expanded to 3 channels, RGBA loses its alpha, 16-bit and float images are scaled to
8 bits. Undecodable or truncated files raise :class:`ImageReadError` naming the file.
:func:`image_size` gives the size :func:`read_image` would return from the file header alone.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = ["ImageReadError", "image_size", "read_image"]

# IMREAD_ANYDEPTH | IMREAD_ANYCOLOR keeps 16-bit data and still applies the EXIF orientation
# (only IMREAD_UNCHANGED and IMREAD_IGNORE_ORIENTATION skip it).
_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR


class ImageReadError(OSError):
    """An image file that is missing, unreadable, corrupt or truncated."""


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        hi = 1.0 if float(np.nanmax(img)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(img) * (255.0 / hi), 0, 255).astype(np.uint8)
    info = np.iinfo(img.dtype)
    return ((img.astype(np.float64) - info.min) * (255.0 / (info.max - info.min))).astype(np.uint8)


_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
# JPEGs are 8-bit gray or colour: OpenCV >= 4.10 decodes them straight to RGB (EXIF applied)
_JPEG_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)


def read_image(path: str | Path, reduce: int = 1) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB.

    Args:
        path: the file.
        reduce: 1, or 2 / 4 / 8 to decode at that fraction of the resolution (JPEG: libjpeg DCT
            scaling, much faster; other formats: decoded whole, then averaged over ``reduce`` x
            ``reduce`` blocks, the last ``W mod reduce`` columns / rows dropped). Pixel ``j`` of the
            result covers original pixels ``reduce*j .. reduce*j + reduce-1``. EXIF orientation is honoured.

    Raises:
        ImageReadError: the file is missing, empty, not decodable, or a truncated JPEG
            (no end-of-image marker; OpenCV would return a half-grey image without an error).
    """
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:  # missing, a directory, no permission
        raise ImageReadError(f"cannot read image file {path}: {err}") from err
    if data.size == 0:
        raise ImageReadError(f"image file {path} is empty")
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    if is_jpeg and b"\xff\xd9" not in data[-1024:].tobytes():
        raise ImageReadError(f"image file {path} is a truncated JPEG (no end-of-image marker)")
    if reduce not in (1, 2, 4, 8):
        raise ValueError(f"read_image: reduce must be 1, 2, 4 or 8, got {reduce}")
    jpeg_rgb = is_jpeg and reduce == 1 and _JPEG_RGB is not None
    # only libjpeg reduces exactly (pixel j <- s*j .. s*j+s-1); OpenCV resizes other formats to floor(W/s)
    # by W / floor(W/s), which drifts off that grid: they are decoded whole and block-averaged below
    flags = _REDUCED[reduce] if is_jpeg and reduce > 1 else _JPEG_RGB if jpeg_rgb else _FLAGS
    img = cv2.imdecode(data, flags)
    if img is None or img.size == 0:
        raise ImageReadError(f"image file {path} is corrupt or not an image OpenCV can decode")
    if jpeg_rgb:
        return img
    img = _to_uint8(img)
    if reduce > 1 and not is_jpeg:
        h, w = img.shape[0] // reduce, img.shape[1] // reduce
        img = cv2.resize(img[: h * reduce, : w * reduce], (w, h), interpolation=cv2.INTER_AREA)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


_EXIF_ORIENTATION = 0x0112
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257


def _stored_size_and_orientation(im: Image.Image) -> tuple[tuple[int, int], int]:
    """``(w, h)`` as stored in the file and the EXIF orientation (1 when absent) of an opened image.

    TIFF: the orientation is one of the file's own tags, and Pillow already reports a transposed
    ``size`` for orientations 5-8, so the stored size is read from the width/height tags. Other
    formats: the raw EXIF block found in the header (``info["exif"]``; a PNG ``eXIf`` chunk placed
    after the image data is not seen without decoding, and is then ignored).
    """
    tags = getattr(im, "tag_v2", None)
    if tags is not None and _TIFF_WIDTH in tags and _TIFF_HEIGHT in tags:
        return (int(tags[_TIFF_WIDTH]), int(tags[_TIFF_HEIGHT])), tags.get(_EXIF_ORIENTATION, 1)
    raw = im.info.get("exif")
    if not raw:
        return im.size, 1
    exif = Image.Exif()
    exif.load(raw)
    return im.size, exif.get(_EXIF_ORIENTATION, 1)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of the image :func:`read_image` returns, from the file header only.

    EXIF orientations 5-8 (a quarter turn) swap width and height, as :func:`read_image` applies them.

    Raises:
        ImageReadError: the file is missing, not an image, or its header is unreadable.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            (w, h), orientation = _stored_size_and_orientation(im)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError) as err:
        raise ImageReadError(f"cannot read the size of image file {path}: {err}") from err
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
