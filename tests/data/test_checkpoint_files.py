"""Broken or foreign checkpoint files: one CheckpointError naming the file and what is wrong (issue 19, item 10)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from lit_heatmap.data.splits import frame_hash
from lit_heatmap.utils import CheckpointError, load_checkpoint, load_model


class Foreign:
    """An object of some other code, pickled into a file."""


def _plain(path: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(64, 64)}, "hyper_parameters": {"x": 1}}, path)
    return path


@pytest.mark.parametrize(
    "content, what",
    [
        (b"", "the file is empty"),
        (b"epoch,loss\n1,0.5\n", "not a PyTorch checkpoint .*a text file"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "this is a video"),
        (b"\x08\x07\x12\x07pytorch", "this looks like an ONNX export"),
    ],
    ids=["empty", "text", "mp4", "onnx"],
)
def test_foreign_files_are_named(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"{re.escape(str(path))}: {what}"):
        load_checkpoint(path)


def test_truncated_checkpoint_names_the_file(tmp_path: Path) -> None:
    path = _plain(tmp_path / "full.ckpt")
    data = path.read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{re.escape(str(cut))}: cannot read this checkpoint"):
        load_checkpoint(cut)


def test_unpickling_advice_only_for_this_package(tmp_path: Path) -> None:
    other = tmp_path / "other.ckpt"
    torch.save({"obj": Foreign()}, other)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(other)
    assert "pickled objects of other code" in str(err.value) and "trust_checkpoint" not in str(err.value)
    ours = tmp_path / "old.ckpt"
    torch.save({"fn": frame_hash}, ours)
    with pytest.raises(CheckpointError, match="made by an older version of lit_heatmap.*trust_checkpoint=true"):
        load_checkpoint(ours)


def test_hparams_without_meta(tmp_path: Path) -> None:
    path = tmp_path / "nometa.ckpt"
    hp = {"backbone": {}, "head": {}, "encoding": {}, "decoder": {}}
    torch.save({"state_dict": {}, "hyper_parameters": hp}, path)
    with pytest.raises(CheckpointError, match=f"{re.escape(str(path))}: .*hyper_parameters lack meta"):
        load_model(path)
