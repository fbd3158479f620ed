"""Heads size themselves from the backbone and the encoding; shape tests across timm families."""

from __future__ import annotations

import pytest
import torch

from lit_heatmap.codecs import Heatmap2D, Hybrid, SimCC
from lit_heatmap.models import (
    Backbone,
    DeconvHeatmapHead,
    HybridHead,
    MultiScaleHeatmapHead,
    SimCCHead,
)

W, H, K = 192, 256, 17  # 256x192 input (w, h)
HM = Heatmap2D((W, H), sigma=2.0)  # 48 x 64 heatmaps
SC = SimCC((W, H), split_ratio=2.0, sigma=6.0)  # 384 x-bins, 512 y-bins

FAMILIES = {
    "resnet18": {},
    "convnext_nano": {},
    "hrnet_w18_small": {"feature_location": ""},
    "efficientnet_b0": {},
    "vit_small_patch16_224": {"img_size": [H, W], "out_indices": [-1]},
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request):
    torch.manual_seed(0)
    b = Backbone(request.param, **FAMILIES[request.param]).eval()
    with torch.no_grad():
        feats = b(torch.randn(1, 3, H, W))
    return request.param, b, feats


def test_all_heads_give_the_encoding_shapes(family) -> None:
    name, b, feats = family
    with torch.no_grad():
        deconv = DeconvHeatmapHead(b.channels, b.strides, K, HM).eval()
        assert tuple(deconv(feats).shape) == (1, K, 64, 48), name
        if name == "vit_small_patch16_224":
            assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in deconv.modules()) == 2
        ms = MultiScaleHeatmapHead(b.channels, b.strides, K, HM).eval()
        assert tuple(ms(feats).shape) == (1, K, 64, 48), name
        x, y = SimCCHead(b.channels, b.strides, K, SC).eval()(feats)
        assert tuple(x.shape) == (1, K, 384) and tuple(y.shape) == (1, K, 512), name
        hm, (hx, hy) = HybridHead(b.channels, b.strides, K, Hybrid(HM, SC)).eval()(feats)
        assert tuple(hm.shape) == (1, K, 64, 48) and tuple(hx.shape) == (1, K, 384) and tuple(hy.shape) == (1, K, 512)


@pytest.mark.parametrize(("stride", "n_deconv"), [(32, 3), (16, 2), (8, 1), (4, 0)])
def test_deconv_count_follows_the_stride_ratio(stride: int, n_deconv: int) -> None:
    head = DeconvHeatmapHead([8], [stride], 3, Heatmap2D((64, 64), heatmap_size=(16, 16)), deconv_channels=4)
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in head.modules()) == n_deconv
    out = head([torch.randn(2, 8, 64 // stride, 64 // stride)])
    assert tuple(out.shape) == (2, 3, 16, 16)


def test_deconv_head_rejects_a_finer_level_and_odd_ratios() -> None:
    with pytest.raises(ValueError, match="power of two"):
        DeconvHeatmapHead([8], [2], 3, Heatmap2D((64, 64), heatmap_size=(16, 16)))
    with pytest.raises(ValueError, match="power of two"):
        DeconvHeatmapHead([8], [24], 3, Heatmap2D((96, 96), heatmap_size=(24, 24)))
    with pytest.raises(ValueError, match="in_index"):
        DeconvHeatmapHead([8], [32], 3, Heatmap2D((64, 64)), in_index=3)


def test_simcc_linear_is_sized_from_the_input_and_stride() -> None:
    head = SimCCHead([8, 16], [16, 32], 2, SimCC((96, 64), split_ratio=2.0))
    assert head.mlp_x.in_features == 3 * 2 and head.mlp_x.out_features == 192
    assert head.mlp_y.out_features == 128
    with pytest.raises(ValueError, match="encoding.input_size"):
        head([torch.randn(1, 8, 4, 6), torch.randn(1, 16, 4, 4)])


def test_multiscale_fuses_levels_at_or_above_the_heatmap_stride() -> None:
    head = MultiScaleHeatmapHead([4, 8, 16, 32], [2, 4, 8, 16], 3, Heatmap2D((64, 64)), fuse="sum", channels=8)
    assert head.in_indices == [1, 2, 3]
    feats = [torch.randn(1, c, 64 // s, 64 // s) for c, s in zip([4, 8, 16, 32], [2, 4, 8, 16])]
    assert tuple(head(feats).shape) == (1, 3, 16, 16)
    cat = MultiScaleHeatmapHead([4, 8, 16, 32], [2, 4, 8, 16], 3, Heatmap2D((64, 64)))
    assert cat.mix[0].in_channels == 8 + 16 + 32


@pytest.mark.parametrize(
    ("head", "encoding", "needs"),
    [
        (SimCCHead, HM, "simcc"),
        (DeconvHeatmapHead, SC, "heatmap"),
        (MultiScaleHeatmapHead, Hybrid(HM, SC), "heatmap"),
        (HybridHead, HM, "hybrid"),
    ],
)
def test_wrong_encoding_names_both_classes(head, encoding, needs: str) -> None:
    with pytest.raises(ValueError, match=f"{head.__name__} cannot be trained with a {type(encoding).__name__}"):
        head([8], [32], 3, encoding)
