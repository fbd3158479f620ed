"""HybridHead takes its branches as head nodes (any heatmap head is a 2D branch); the option mappings of
checkpoints written before (``heatmap_branch`` + plain options) still build the same network."""

from __future__ import annotations

import functools

import pytest
import torch
from hydra.utils import instantiate

from lit_heatmap.codecs import Heatmap2D, Hybrid, SimCC
from lit_heatmap.models import DeconvHeatmapHead, HybridHead, MultiScaleHeatmapHead, SimCCHead
from lit_heatmap.nodes import node

CH, ST, K = [8, 16], [8, 16], 3
ENC = Hybrid(Heatmap2D((64, 64), sigma=2.0), SimCC((64, 64), split_ratio=2.0, sigma=4.0))
FEATS = [torch.randn(2, 8, 8, 8, generator=torch.Generator().manual_seed(0)), torch.randn(2, 16, 4, 4)]


def _build(head_node: dict) -> HybridHead:
    """A head node built as the module builds it (Hydra, nested nodes first), seeded."""
    torch.manual_seed(0)
    return instantiate(head_node, in_channels=CH, in_strides=ST, num_keypoints=K, encoding=ENC)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("branch", "legacy_name", "options"),
    [(DeconvHeatmapHead, "deconv", {"deconv_channels": 16}), (MultiScaleHeatmapHead, "multiscale", {"fuse": "sum"})],
)
def test_branch_nodes_build_what_the_legacy_options_built(branch, legacy_name: str, options: dict) -> None:
    new = _build(
        node(
            HybridHead,
            heatmap=node(branch, _partial_=True, **options),
            simcc=node(SimCCHead, _partial_=True, in_index=0),
        )
    )
    old = _build(node(HybridHead, heatmap_branch=legacy_name, heatmap=options, simcc={"in_index": 0}))
    assert type(new.heatmap) is branch and type(new.simcc) is SimCCHead
    _same(new, old)  # same state_dict keys and values: old checkpoints load into today's head
    hm, (x, y) = new.eval()(FEATS)
    assert tuple(hm.shape) == (2, K, 16, 16) and tuple(x.shape) == (2, K, 128) and tuple(y.shape) == (2, K, 128)


def test_defaults_and_python_partials() -> None:
    default = _build(node(HybridHead))
    assert type(default.heatmap) is DeconvHeatmapHead and type(default.simcc) is SimCCHead
    torch.manual_seed(0)
    made = HybridHead(CH, ST, K, ENC, heatmap=functools.partial(DeconvHeatmapHead), simcc=SimCCHead)
    _same(default, made)


def test_the_yaml_option_is_in_the_node_form() -> None:
    from .test_model_configs import _config

    cfg = _config("head", "hybrid")
    assert cfg["heatmap"]["_partial_"] is True and cfg["simcc"]["_partial_"] is True
    assert "heatmap_branch" not in cfg
    head = _build(cfg)
    assert type(head.heatmap) is DeconvHeatmapHead and head.heatmap.deconv[0].out_channels == 256


def test_a_branch_that_does_not_fit_its_part_of_the_encoding_is_named() -> None:
    with pytest.raises(ValueError, match=r"HybridHead.heatmap \(SimCCHead\) cannot be trained with a Heatmap2D"):
        HybridHead(CH, ST, K, ENC, heatmap=SimCCHead)
    with pytest.raises(ValueError, match=r"HybridHead.simcc \(DeconvHeatmapHead\) cannot be trained with a SimCC"):
        HybridHead(CH, ST, K, ENC, simcc=DeconvHeatmapHead)


def test_an_unbuilt_head_node_and_an_unknown_legacy_branch_are_refused() -> None:
    with pytest.raises(ValueError, match="give it '_partial_: true'"):
        HybridHead(CH, ST, K, ENC, heatmap=node(DeconvHeatmapHead))
    with pytest.raises(ValueError, match="heatmap_branch must be one of"):
        HybridHead(CH, ST, K, ENC, heatmap_branch="fpn")


def test_a_checkpoint_with_the_legacy_head_node_loads_into_the_same_model() -> None:
    """hyper_parameters written before the branches were nodes (``heatmap_branch``, option mappings)
    load with ``load_model`` into the network the node form builds, weights and predictions equal."""
    from lit_heatmap.codecs import HybridDecoder
    from lit_heatmap.data import DatasetMeta
    from lit_heatmap.models import Backbone, HybridLoss
    from lit_heatmap.module import HeatmapModule
    from lit_heatmap.utils import load_model

    meta = DatasetMeta("three", K, ["a", "b", "c"], [], [0, 1, 2], [0.05] * K, (64, 64))
    enc = node(Hybrid, heatmap=node(Heatmap2D, input_size=None), simcc=node(SimCC, input_size=None, sigma=4.0))
    parts = {"backbone": node(Backbone, name="test_resnet"), "encoding": enc, "meta": meta}
    parts |= {"decoder": node(HybridDecoder), "loss": node(HybridLoss)}
    legacy = {"_target_": "lit_heatmap.models.HybridHead", "heatmap_branch": "deconv", "heatmap": {}, "simcc": {}}
    torch.manual_seed(0)
    old = HeatmapModule(head=legacy, **parts).eval()
    loaded = load_model({"state_dict": old.state_dict(), "hyper_parameters": dict(old.hparams)})
    torch.manual_seed(1)
    new = HeatmapModule(head=node(HybridHead, heatmap=node(DeconvHeatmapHead, _partial_=True)), **parts).eval()
    new.load_state_dict(old.state_dict())
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = old.decode(old(images))[0]
        assert torch.equal(loaded.decode(loaded(images))[0], want)
        assert torch.equal(new.decode(new(images))[0], want)
