"""`KeypointDataModule`: wraps train/val/test datasets into DataLoaders with a meta-keeping collate."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, default_collate

from .meta import DatasetMeta

__all__ = ["KeypointDataModule", "collate", "default_num_workers", "MAX_DEFAULT_WORKERS"]

DatasetLike = Dataset | Callable[[], Dataset]


class _Cycle(Sampler[int]):
    """Indices ``0..n-1`` in order, ``passes`` times."""

    def __init__(self, n: int, passes: int) -> None:
        self.n, self.passes = n, passes

    def __iter__(self) -> Iterator[int]:
        return (i for _ in range(self.passes) for i in range(self.n))

    def __len__(self) -> int:
        return self.n * self.passes


# the default worker count stops here: more processes than this rarely feed one GPU faster
MAX_DEFAULT_WORKERS = 16


def default_num_workers(cap: int = MAX_DEFAULT_WORKERS) -> int:
    """DataLoader workers by default: the CPUs this process may run on (its affinity mask, which
    honours ``taskset``, cgroups cpusets and SLURM's ``--cpus-per-task``), at most ``cap``.
    Every dataset config uses it through ``num_workers: null`` (``dataset.num_workers=N`` overrides)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows: no affinity mask
        cpus = os.cpu_count() or 1
    return max(1, min(int(cap), cpus))


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of sample dicts into a batch.

    Tensors are stacked along a new batch dim (``image (B, 3, H, W)``, ``keypoints (B, K, 2)``,
    ``image_id (B,)``...); python numbers become tensors; anything else (``image_path`` strings...)
    is kept as a list, so the meta keys survive batching.
    """
    if len(samples) == 0:
        raise ValueError("collate: empty batch")
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        first = values[0]
        if isinstance(first, torch.Tensor):
            # default_collate stacks straight into shared memory inside DataLoader workers
            batch[key] = default_collate(values)
        elif isinstance(first, (bool, int, float)):
            batch[key] = torch.tensor(values)
        else:
            batch[key] = values
    return batch


def _flip_line(meta: DatasetMeta) -> str:
    if meta.flip_note:
        return meta.flip_note
    if meta.flip_index is None:
        return "flip off: the keypoints' sides are unknown"
    return f"flip pairs: {sum(i < j for i, j in enumerate(meta.flip_index))} mirrored pairs"


class KeypointDataModule(L.LightningDataModule):
    """Train/val/test loaders for any of the lit_heatmap datasets.

    Args:
        train: a Dataset, or a zero-argument callable (``functools.partial`` / Hydra ``_partial_``)
            that builds it; built lazily on first use.
        val: same, for validation (optional: without it there is no val loader).
        test: same, for test; defaults to ``val`` when None.
        batch_size: training batch size.
        val_batch_size: eval batch size (defaults to ``batch_size``).
        num_workers: DataLoader workers; None: :func:`default_num_workers` (the CPUs available, at most 16).
        pin_memory: pin host memory; None: when the Trainer's device is a GPU (faster, asynchronous copies).
        persistent_workers: keep workers alive between epochs (only when num_workers > 0), so short
            epochs of a small dataset do not restart every worker (and re-import torch) each epoch.
        drop_last: drop the last incomplete training batch.
        shuffle: shuffle the training set.
        min_epoch_samples: a training epoch covers at least this many samples: a smaller training set is
            passed over ``ceil(min_epoch_samples / len)`` times per epoch (each pass a fresh permutation
            when shuffling), so an 80-frame project does not pay the per-epoch work (sampler, epoch-end
            hooks, logging) every few steps. None: one pass per epoch.

    ``meta`` (a :class:`DatasetMeta`) is available right after construction.
    """

    def __init__(
        self,
        train: DatasetLike | None,
        val: DatasetLike | None = None,
        test: DatasetLike | None = None,
        batch_size: int = 32,
        val_batch_size: int | None = None,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        drop_last: bool = True,
        shuffle: bool = True,
        min_epoch_samples: int | None = None,
    ) -> None:
        super().__init__()
        if train is None and val is None and test is None:
            raise ValueError("KeypointDataModule needs at least one of train, val, test")
        if int(batch_size) <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self._sources: dict[str, DatasetLike | None] = {"train": train, "val": val, "test": test}
        self._datasets: dict[str, Dataset | None] = {}
        self.batch_size = int(batch_size)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.num_workers = default_num_workers() if num_workers is None else int(num_workers)
        if self.num_workers < 0:
            raise ValueError(f"dataset.num_workers must be >= 0 (or null for the default), got {num_workers}")
        self.pin_memory = None if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        if min_epoch_samples is not None and int(min_epoch_samples) <= 0:
            raise ValueError(f"dataset.min_epoch_samples must be positive (or null), got {min_epoch_samples}")
        self.min_epoch_samples = None if min_epoch_samples is None else int(min_epoch_samples)
        self._meta: DatasetMeta | None = None

    def dataset(self, split: str) -> Dataset | None:
        """The dataset of ``split`` (``train``/``val``/``test``), built on first use."""
        if split not in self._sources:
            raise KeyError(f"unknown split {split!r}; expected train, val or test")
        if split not in self._datasets:
            src = self._sources[split]
            if src is None and split == "test":
                ds = self.dataset("val")
            elif src is None or isinstance(src, Dataset):
                ds = src
            else:
                ds = src()
            self._datasets[split] = ds
        return self._datasets[split]

    @property
    def meta(self) -> DatasetMeta:
        """Metadata of the first available split (train, else val, else test)."""
        if self._meta is None:
            for split in ("train", "val", "test"):
                ds = self.dataset(split) if self._sources[split] is not None else None
                if ds is not None:
                    meta = getattr(ds, "meta", None)
                    if not isinstance(meta, DatasetMeta):
                        raise TypeError(f"{split} dataset {type(ds).__name__} has no DatasetMeta `meta`")
                    self._meta = meta
                    break
        assert self._meta is not None
        return self._meta

    @property
    def train_dataset(self) -> Dataset | None:
        return self.dataset("train")

    @property
    def val_dataset(self) -> Dataset | None:
        return self.dataset("val")

    @property
    def test_dataset(self) -> Dataset | None:
        return self.dataset("test")

    def ground_truth(self, split: str = "val") -> dict[str, Any] | None:
        """The ground truth of every image of ``split`` as a COCO-style dict (the dataset's
        ``ground_truth()``, for ``KeypointAP``), or None when the split or the method is missing."""
        ds = self.dataset(split) if self._sources[split] is not None or split == "test" else None
        fn = getattr(ds, "ground_truth", None)
        return fn() if callable(fn) else None

    def summary(self) -> str:
        """What the run will see: K and the keypoint names, the flip pairs (or "flip off"), instances and
        images per split, the input size and the samples skipped as bad."""
        meta = self.meta
        lines = [
            f"dataset {meta.name!r}: {meta.num_keypoints} keypoints: {', '.join(meta.keypoint_names)}",
            _flip_line(meta),
            f"input size (w, h): {list(meta.input_size)}",
        ]
        for split in ("train", "val", "test"):
            if self._sources[split] is None:
                continue
            ds = self.dataset(split)
            records = getattr(ds, "records", None)
            images = f" on {len({r.image_id for r in records})} images" if records else ""
            skipped = getattr(ds, "num_skipped", 0)
            lines.append(
                f"{split}: {len(ds)} instances{images}" + (f", {skipped} bad samples skipped" if skipped else "")
            )
        return "\n".join(lines)

    def setup(self, stage: str | None = None) -> None:
        """Builds the datasets the stage needs (cheap setup checks run here for partials)."""
        splits = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in splits.get(stage or "", ("train", "val", "test")):
            self.dataset(split)

    def _loader(self, ds: Dataset | None, train: bool, split: str) -> DataLoader:
        if ds is None:
            raise RuntimeError(f"KeypointDataModule has no {split} dataset (set dataset.datamodule.{split})")
        sampler = self._repeating_sampler(ds) if train else None
        return DataLoader(
            ds,
            batch_size=self.batch_size if train else self.val_batch_size,
            shuffle=self.shuffle and train and sampler is None,
            sampler=sampler,
            drop_last=self.drop_last and train and len(ds) >= self.batch_size,  # type: ignore[arg-type]
            num_workers=self.num_workers,
            pin_memory=self._pin(),
            persistent_workers=self.persistent_workers,
            collate_fn=collate,
        )

    def _repeating_sampler(self, ds: Dataset) -> Sampler[int] | None:
        """Several passes over a training set smaller than ``min_epoch_samples``; None: one pass."""
        n = len(ds)  # type: ignore[arg-type]
        if self.min_epoch_samples is None or n == 0 or n >= self.min_epoch_samples:
            return None
        passes = math.ceil(self.min_epoch_samples / n)
        if self.shuffle:  # whole permutations, one after the other
            return RandomSampler(ds, num_samples=passes * n)  # type: ignore[arg-type]
        return _Cycle(n, passes)

    def _pin(self) -> bool:
        """Pinned host memory: as set, else when the attached Trainer trains on a GPU (never without CUDA)."""
        if not torch.cuda.is_available():
            return False
        if self.pin_memory is not None:
            return self.pin_memory
        trainer = self.trainer
        return trainer is not None and trainer.strategy.root_device.type == "cuda"

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset, True, "train")

    def val_dataloader(self) -> DataLoader | list:
        # no val set: an empty list, which Lightning treats as "no validation batches"
        return [] if self.val_dataset is None else self._loader(self.val_dataset, False, "val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, False, "test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_dataset, False, "test")
