"""Train/val splits that are a pure function of each frame's path, and the run's ``split.json``.

A frame goes to val when ``hash(seed, path) < val_fraction``, the hash being the first 8 bytes of
``sha1(f"{seed}:{path}")`` as a fraction of 2**64 (uniform in [0, 1)). ``path`` is the frame's path
relative to the project root (DeepLabCut, lightning-pose) or the JSON's ``file_name`` (COCO format),
with ``/`` separators. So a frame never changes side when other frames are added or removed, and
about ``val_fraction`` of the frames are val. Only when that leaves one side empty (a handful of
frames) does the frame with the smallest (or largest) hash move over, so that both sides have one.

Every training run writes ``<run dir>/split.json`` = ``{"train": [...], "val": [...]}`` (sorted
paths, as above) with :func:`write_split`; ``lit-heatmap-eval`` reads it back (``dataset.split_file``)
to score exactly the frames the run held out.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["frame_hash", "split_keys", "split_image_ids", "read_split_file", "write_split", "relative_path"]

log = logging.getLogger("lit_heatmap.data")


def frame_hash(path: str, seed: int = 0) -> float:
    """A uniform number in [0, 1) that depends only on ``(path, seed)``."""
    digest = hashlib.sha1(f"{int(seed)}:{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_keys(keys: Iterable[str], val_fraction: float, seed: int = 0) -> tuple[set[str], set[str]]:
    """``(train, val)`` frame keys: a key is val when :func:`frame_hash` ``< val_fraction``.

    Raises:
        ValueError: ``val_fraction`` outside (0, 1), or fewer than 2 distinct keys.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    hashes = {k: frame_hash(k, seed) for k in set(keys)}
    if len(hashes) < 2:
        raise ValueError(f"cannot split {len(hashes)} frame(s) into train and val")
    val = {k for k, h in hashes.items() if h < val_fraction}
    if not val:
        val = {min(hashes, key=hashes.__getitem__)}
    elif len(val) == len(hashes):
        val.discard(max(hashes, key=hashes.__getitem__))
    return set(hashes) - val, val


def split_image_ids(images: Sequence[dict[str, Any]], val_fraction: float, seed: int = 0) -> tuple[set[int], set[int]]:
    """Train and val image ids of a COCO ``images`` list: an image is val when the hash of its
    ``file_name`` (``/`` separators) and ``seed`` is below ``val_fraction``
    (:func:`split_keys`), so adding images never moves the others."""
    names = {int(img["id"]): str(img.get("file_name", img["id"])).replace("\\", "/") for img in images}
    _, val_names = split_keys(names.values(), val_fraction, seed)
    val = {i for i, n in names.items() if n in val_names}
    return set(names) - val, val


def relative_path(path: str | Path, root: str | Path | None) -> str:
    """``path`` relative to ``root`` with ``/`` separators (as it is when it lies outside ``root``)."""
    p = Path(path)
    if root is not None:
        try:
            p = p.relative_to(Path(root))
        except ValueError:
            pass
    return p.as_posix()


def read_split_file(path: str | Path) -> dict[str, list[str]]:
    """The ``{"train": [...], "val": [...]}`` of a run's ``split.json``.

    Raises:
        FileNotFoundError / ValueError: no such file, or not the layout above (naming the file).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"split file {p} not found (a training run writes <run dir>/split.json)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{p}: not a readable split file ({err})") from err
    ok = isinstance(data, dict) and all(isinstance(data.get(s), list) for s in ("train", "val"))
    if not ok or not all(isinstance(f, str) for s in ("train", "val") for f in data[s]):
        raise ValueError(f'{p}: expected {{"train": [paths], "val": [paths]}}')
    return {"train": list(data["train"]), "val": list(data["val"])}


def _files(dataset: Any) -> list[str] | None:
    fn = getattr(dataset, "image_files", None)
    return fn() if callable(fn) else None


def write_split(datamodule: Any, run_dir: str | Path) -> Path | None:
    """Write ``<run_dir>/split.json`` with the image files of the datamodule's train and val datasets
    (their ``image_files()``); None (nothing written) when neither dataset lists its files."""
    split = {}
    for name in ("train", "val"):
        ds = getattr(datamodule, f"{name}_dataset", None)
        split[name] = _files(ds) if ds is not None else None
    if split["train"] is None and split["val"] is None:
        return None
    out = Path(run_dir) / "split.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({k: v or [] for k, v in split.items()}, indent=1) + "\n", encoding="utf-8")
    log.info("train/val split written to %s", out)
    return out
