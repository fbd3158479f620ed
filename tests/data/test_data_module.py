"""KeypointDataModule: meta right after construction, collate, loaders, lazy partials."""

from __future__ import annotations

import functools

import pytest
import torch

from lit_heatmap.data import KeypointDataModule, KeypointTransform, Synthetic, collate


def test_meta_available_after_construction() -> None:
    dm = KeypointDataModule(Synthetic(8), Synthetic(4, split="val"), batch_size=4, num_workers=0)
    assert dm.meta.num_keypoints == 14 and dm.meta.input_size == (128, 128)
    assert dm.meta.flip_index[2:4] == [3, 2]


def test_partials_are_built_lazily() -> None:
    calls = []

    def build(n: int) -> Synthetic:
        calls.append(n)
        return Synthetic(n)

    dm = KeypointDataModule(functools.partial(build, 8), functools.partial(build, 4), num_workers=0)
    assert calls == []
    assert dm.meta.name == "synthetic"
    assert calls == [8]
    dm.setup("fit")
    assert calls == [8, 4] and len(dm.val_dataset) == 4
    assert dm.test_dataset is dm.val_dataset  # test defaults to val


def test_collate_stacks_tensors_and_keeps_meta_keys() -> None:
    ds = Synthetic(3)
    batch = collate([ds[0], ds[1], ds[2]])
    assert batch["image"].shape == (3, 3, 128, 128)
    assert batch["keypoints"].shape == (3, 14, 2) and batch["affine"].shape == (3, 2, 3)
    assert batch["image_id"].tolist() == [0, 1, 2] and batch["image_id"].dtype == torch.long
    assert batch["occluded"].shape == (3, 14)
    assert batch["image_path"] == ["synthetic/train/0", "synthetic/train/1", "synthetic/train/2"]
    mixed = collate([{"x": 1.5, "s": "a"}, {"x": 2.0, "s": "b"}])
    assert torch.equal(mixed["x"], torch.tensor([1.5, 2.0])) and mixed["s"] == ["a", "b"]


def test_loaders_with_workers() -> None:
    dm = KeypointDataModule(
        Synthetic(10, transform=KeypointTransform((128, 128), train=True)),
        Synthetic(5, split="val"),
        batch_size=4,
        num_workers=2,
        persistent_workers=True,
    )
    train = list(dm.train_dataloader())
    assert len(train) == 2 and all(b["image"].shape[0] == 4 for b in train)  # drop_last
    val = list(dm.val_dataloader())
    assert [b["image"].shape[0] for b in val] == [4, 1]
    # val is not augmented: identical to direct indexing
    torch.testing.assert_close(val[0]["keypoints"][1], dm.val_dataset[1]["keypoints"])


def test_no_val_gives_empty_loader_and_bad_args() -> None:
    dm = KeypointDataModule(Synthetic(4), num_workers=0)
    assert dm.val_dataloader() == []
    with pytest.raises(ValueError, match="batch_size"):
        KeypointDataModule(Synthetic(4), batch_size=0)
    with pytest.raises(ValueError, match="at least one"):
        KeypointDataModule(None)
