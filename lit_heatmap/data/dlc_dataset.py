"""`DLCProject`: a DeepLabCut or lightning-pose labelled project as a top-down dataset.

``lit-heatmap-train dataset=dlc dataset.root=<project folder> [dataset.csv=CollectedData.csv]``

The labels are read by :mod:`lit_heatmap.data.dlc` (every ``labeled-data/*/CollectedData_*.csv``, or
one CSV; single- and multi-animal headers, one or three index columns). One instance per frame and
labelled individual: single-animal frames are their own box, multi-animal instances the padded
extent of their labelled keypoints. Names come from the header, the skeleton from the project's
``config.yaml``, flip pairs from ``flip_pairs`` or the names (flip off when names look sided but
cannot be paired). Train and val are split by frame (``val_fraction``, seeded), or val is a CSV of
its own (``val_csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from .base import KeypointDataset
from .dlc import dlc_records, read_labels, read_project_skeleton, split_records
from .meta import DatasetMeta, resolve_flip_index
from .pipeline import KeypointTransform, fit_transform
from .validation import BadSamples, OnBadSample

__all__ = ["DLCProject"]


class DLCProject(KeypointDataset):
    """Frames and labels of a DeepLabCut / lightning-pose project.

    Args:
        root: the project folder (``config.yaml``, ``labeled-data/``); image paths in the CSVs are
            relative to it.
        csv: one label file (absolute or relative to ``root``, e.g. lightning-pose's
            ``CollectedData.csv``); None: every ``labeled-data/*/CollectedData_*.csv``.
        split: ``"train"``, ``"val"`` or ``"all"`` (every labelled frame).
        val_fraction: fraction of the frames held out for val (when ``val_csv`` is None).
        val_csv: a label file of its own for the val split (then train uses every frame of ``csv``).
        split_seed: seed of the frame split.
        flip_pairs: ``[[a, b], ...]`` by index or bodypart name; ``[]``: no bodypart has a side;
            None: derived from the names.
        sigmas: K OKS sigmas (default 0.05 each).
        input_size: network input ``(w, h)`` when ``transform`` is None (None: as below).
        transform: the crop + augmentation pipeline (``dataset.transform``). Left None, its
            ``input_size`` follows the frames (single animal: aspect ratio at 256 px on the short
            side, multiples of 32: 640x480 -> (320, 256); multi-animal: (192, 256)) and its
            ``padding`` is 1.0 for whole frames, 1.25 for multi-animal boxes.
        box_padding: multi-animal boxes: the keypoints' extent is padded by this fraction of its
            longer side (plus 4 px) before the crop's ``padding``.
        name: dataset name in the meta (default: the project folder's name).
        on_bad_sample: ``"raise"`` or ``"skip"`` (a bad row drops its frame, counted and logged).
    """

    def __init__(
        self,
        root: str | Path,
        csv: str | Path | None = None,
        split: Literal["train", "val", "all"] = "train",
        val_fraction: float = 0.1,
        val_csv: str | Path | None = None,
        split_seed: int = 0,
        flip_pairs: Sequence[Sequence[int | str]] | None = None,
        sigmas: Sequence[float] | None = None,
        input_size: Sequence[int] | None = None,
        transform: KeypointTransform | None = None,
        box_padding: float = 0.1,
        name: str | None = None,
        on_bad_sample: OnBadSample = "raise",
    ) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"DLCProject: split must be 'train', 'val' or 'all', got {split!r}")
        root = Path(root).expanduser()
        bad = BadSamples(on_bad_sample, str(root))
        labels = read_labels(root, csv, bad)
        records = dlc_records(labels, bad, pad_fraction=box_padding)
        names = labels[0].bodyparts
        multi = any(lab.multi_animal for lab in labels)
        if val_csv not in (None, ""):
            val_labels = read_labels(root, val_csv, bad)
            if val_labels[0].bodyparts != names:
                raise ValueError(
                    f"{val_labels[0].path}: bodyparts {val_labels[0].bodyparts} differ from {names} of {labels[0].path}"
                )
            chosen = dlc_records(val_labels, bad, pad_fraction=box_padding) if split == "val" else records
        elif split == "all" or not val_fraction:
            if split == "val":
                raise ValueError(
                    "DLCProject: no validation frames; set dataset.val_fraction=0.1 or dataset.val_csv=<file>"
                )
            chosen = records
        else:
            train, val = split_records(records, float(val_fraction), split_seed)
            chosen = val if split == "val" else train
        bad.summary()
        # the input size follows every labelled frame (train and val alike), not this split's
        frames = None if multi else [(int(r.bbox[2]), int(r.bbox[3])) for r in records]
        transform = fit_transform(transform, frames, input_size)
        flip = resolve_flip_index(names, flip_pairs)
        sig = [float(s) for s in sigmas] if sigmas is not None else [0.05] * len(names)
        if len(sig) != len(names):
            raise ValueError(f"dataset.sigmas has {len(sig)} entries but the project has {len(names)} bodyparts")
        meta = DatasetMeta(
            name=name or root.name,
            num_keypoints=len(names),
            keypoint_names=list(names),
            skeleton=read_project_skeleton(root, names),
            flip_index=flip.index,
            sigmas=sig,
            input_size=transform.input_size,
            padding=transform.padding,
            flip_note=flip.summary,
        )
        self.root, self.split, self.labels = root, split, labels
        super().__init__(list(chosen), meta, transform, on_bad_sample, bad)
