"""Every option of conf/{backbone,head,encoding,decoder,loss} instantiates and composes into a module."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lit_heatmap.data import DatasetMeta
from lit_heatmap.module import HeatmapModule
from lit_heatmap.nodes import plain, with_input_size

CONF = Path(__file__).resolve().parents[2] / "conf"
META = DatasetMeta("three", 3, ["a", "b", "c"], [], [0, 1, 2], [0.05] * 3, (64, 64))


def _config(group: str, option: str, input_size=(64, 64)) -> dict:
    """The option's YAML node as plain data; an encoding's unset input size filled as HeatmapModule fills
    it from the dataset's meta."""
    root = OmegaConf.create({"dataset": {"input_size": list(input_size)}})
    node = OmegaConf.load(CONF / group / f"{option}.yaml")
    node.pop("defaults", None)  # group-level defaults (e.g. encoding=simcc picking head/loss) are Hydra's business
    root[group] = node
    return with_input_size(plain(root[group]), input_size) if group == "encoding" else plain(root[group])


def _node(group: str, option: str, input_size=(64, 64)):
    return instantiate(_config(group, option, input_size))


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_the_contract_options_exist() -> None:
    assert {"heatmap2d", "udp", "simcc", "hybrid"} <= set(_options("encoding"))
    assert {"argmax", "quarter_offset", "dark", "soft_argmax", "marginal", "hybrid"} <= set(_options("decoder"))
    assert {"deconv", "multiscale", "simcc", "hybrid"} <= set(_options("head"))
    assert {"mse", "kl", "awing", "soft_argmax", "hybrid"} <= set(_options("loss"))
    assert {"resnet18", "resnet50", "hrnet_w32", "hrnet_w18", "convnext_nano", "resnet10t"} <= set(_options("backbone"))


@pytest.mark.parametrize("option", _options("encoding"))
def test_encodings_take_the_input_size_from_the_dataset_meta(option: str) -> None:
    """One lane: the YAML leaves every input_size unset; the module fills it from the dataset's meta."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF / "encoding" / f"{option}.yaml"))
    raw.pop("defaults", None)
    sizes = [v.get("input_size", "absent") for v in (raw, *(n for n in raw.values() if isinstance(n, dict)))]
    assert all(size is None for size in sizes if size != "absent") and None in sizes
    enc = _node("encoding", option, input_size=(48, 64))
    assert tuple(enc.input_size) == (48, 64)


@pytest.mark.parametrize("option", _options("backbone"))
def test_backbone_presets_do_not_download(option: str) -> None:
    assert _config("backbone", option)["pretrained"] is False


# (head, encoding, decoder, loss) that belong together, each built from its YAML
COMBOS = [
    ("deconv", "heatmap2d", "dark", "mse"),
    ("deconv", "udp", "quarter_offset", "awing"),
    ("multiscale", "heatmap2d", "marginal", "mse"),
    ("deconv", "heatmap2d", "soft_argmax", "soft_argmax"),
    ("deconv", "heatmap2d", "argmax", "mse"),
    ("simcc", "simcc", "soft_argmax", "kl"),
    ("hybrid", "hybrid", "hybrid", "hybrid"),
]


@pytest.mark.parametrize(("head", "encoding", "decoder", "loss"), COMBOS)
def test_yaml_combinations_build_and_run(head: str, encoding: str, decoder: str, loss: str) -> None:
    model = HeatmapModule(
        backbone={**_config("backbone", "resnet10t"), "name": "test_resnet"},
        head=_config("head", head),
        encoding=_config("encoding", encoding),
        decoder=_config("decoder", decoder),
        loss=_config("loss", loss),
        meta=META,
    )
    batch = {
        "image": torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8),
        "keypoints": torch.rand(2, 3, 2) * 63,
        "visibility": torch.ones(2, 3),
    }
    loss_value = model.training_step(batch, 0)
    assert torch.isfinite(loss_value)
    kpts, scores = model.decode(model(batch["image"]))
    assert tuple(kpts.shape) == (2, 3, 2) and tuple(scores.shape) == (2, 3)


def test_a_wrong_yaml_combination_is_rejected() -> None:
    with pytest.raises(ValueError, match="SimCCHead cannot be trained with a Heatmap2D"):
        HeatmapModule(
            backbone=_config("backbone", "resnet10t"),
            head=_config("head", "simcc"),
            encoding=_config("encoding", "heatmap2d"),
            decoder=_config("decoder", "dark"),
            loss=_config("loss", "mse"),
            meta=META,
        )
