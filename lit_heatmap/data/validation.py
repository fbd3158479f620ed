"""Cheap setup-time checks (annotations and file existence, no decoding) and the bad-sample policy.

Every check names where the problem is (``file:line`` or ``file, annotation id N``) so that a user
can fix the annotation. With ``on_bad_sample="skip"`` the offending sample is dropped instead,
counted and logged: once per process, also when several splits read the same label file (the train
and val split of a DeepLabCut project both read every file).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = ["BadSampleError", "BadSamples", "check_bbox", "check_keypoints", "check_root"]

log = logging.getLogger("lit_heatmap.data")

OnBadSample = Literal["raise", "skip"]

_LOGGED: set[str] = set()  # the problems already logged in this process (each is logged once)


class BadSampleError(ValueError):
    """A malformed annotation or an unusable image, with its location in the message."""


class BadSamples:
    """Applies ``on_bad_sample``: raise at the first problem, or count, remember and log it.

    Args:
        policy: ``"raise"`` or ``"skip"``.
        source: what is being read (an annotation file), used in the summary log line.
    """

    def __init__(self, policy: OnBadSample, source: str) -> None:
        if policy not in ("raise", "skip"):
            raise ValueError(f"on_bad_sample must be 'raise' or 'skip', got {policy!r}")
        self.policy = policy
        self.source = source
        self.messages: list[str] = []
        self.skipped: set[int] = set()  # annotation ids of skipped samples (kept out of the ground truth too)
        self._new = 0  # problems this reader logged first

    @property
    def count(self) -> int:
        return len(self.messages)

    def report(self, message: str, exc: type[Exception] = BadSampleError, annotation_id: int | None = None) -> None:
        """Raise ``exc(message)`` under ``"raise"``; count and log it under ``"skip"`` (remembering the
        ``annotation_id``, when given, in :attr:`skipped`)."""
        if self.policy == "raise":
            raise exc(message + " (set on_bad_sample=skip to drop such samples)")
        self.messages.append(message)
        if annotation_id is not None:
            self.skipped.add(int(annotation_id))
        if message not in _LOGGED:
            _LOGGED.add(message)
            self._new += 1
            log.warning("skipping bad sample: %s", message)

    def summary(self) -> None:
        """Log how many samples were skipped at setup (unless every one was already told by another
        reader of the same files)."""
        if self._new:
            log.warning("%s: skipped %d bad sample(s) (each logged above)", self.source, self.count)


def check_root(root: str | Path | None, what: str, expected: str, key: str = "dataset.root") -> Path:
    """The dataset root as a Path; a missing root raises FileNotFoundError saying how to set it."""
    if root is None or str(root) in ("", "???"):
        raise FileNotFoundError(f"{what}: no dataset root given; set it with `{key}=/path/to/{expected}`")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{what}: dataset root {path} does not exist; point `{key}=` at the folder that holds {expected}"
        )
    return path


def check_keypoints(kps: np.ndarray, vis: np.ndarray, where: str) -> str | None:
    """Problem with ``kps (K, 2)`` / ``vis (K,)`` labelled coordinates, or None when fine:
    NaN/inf anywhere or a coordinate below -0.5 (left of or above the image) on a labelled keypoint."""
    if not np.all(np.isfinite(kps)) or not np.all(np.isfinite(vis)):
        bad = int(np.flatnonzero(~np.isfinite(kps).all(1) | ~np.isfinite(vis))[0])
        return f"{where}: keypoint {bad} has a NaN or infinite value"
    neg = (vis > 0) & (kps < -0.5).any(1)  # pixel centres at integers: the image starts at -0.5
    if neg.any():
        bad = int(np.flatnonzero(neg)[0])
        return f"{where}: keypoint {bad} has negative coordinates {kps[bad].tolist()}"
    return None


def check_bbox(bbox: Sequence[float] | None, where: str) -> str | None:
    """Problem with an ``(x, y, w, h)`` box, or None: wrong length, NaN, or empty/negative size."""
    if bbox is None or len(bbox) != 4:
        return f"{where}: bbox must be [x, y, w, h], got {bbox!r}"
    vals = [float(v) for v in bbox]
    if not all(math.isfinite(v) for v in vals):
        return f"{where}: bbox {vals} has a NaN or infinite value"
    if vals[2] <= 0 or vals[3] <= 0:
        return f"{where}: bbox {vals} is empty or has a negative size"
    return None
