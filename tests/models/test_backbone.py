"""Backbone adapter: channels/strides from timm, local pretrained weights, frozen BatchNorm, errors."""

from __future__ import annotations

import pytest
import timm
import torch

from lit_heatmap.models import Backbone


def test_channels_and_strides_match_the_feature_maps() -> None:
    b = Backbone("test_resnet")
    feats = b(torch.randn(1, 3, 64, 96))
    assert b.channels == [32, 32, 48, 192, 96]
    assert b.strides == [2, 4, 8, 16, 32]
    for f, c, s in zip(feats, b.channels, b.strides):
        assert tuple(f.shape) == (1, c, 64 // s, 96 // s)


def test_out_indices_and_timm_kwargs_pass_through() -> None:
    b = Backbone("test_resnet", out_indices=[2, 4])
    assert b.strides == [8, 32] and len(b(torch.randn(1, 3, 64, 64))) == 2


def test_vit_accepts_non_square_input_without_img_size() -> None:
    b = Backbone("test_vit", out_indices=[-1])
    (f,) = b(torch.randn(1, 3, 64, 48))
    assert b.strides == [16] and tuple(f.shape) == (1, 64, 4, 3)


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown timm model"):
        Backbone("resnet_that_does_not_exist")


@pytest.mark.parametrize("nest", ["plain", "state_dict", "model", "lit_heatmap"])
def test_pretrained_path_loads_nested_prefixed_classifier_weights(tmp_path, nest: str) -> None:
    full = timm.create_model("test_resnet", pretrained=False)
    torch.manual_seed(1)
    for p in full.parameters():
        p.data.normal_()
    state = full.state_dict()
    if nest == "state_dict":  # Lightning-style: {"state_dict": {"model.<key>": ...}}
        obj = {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}
    elif nest == "model":  # timm/DeiT-style with DDP prefix
        obj = {"model": {f"module.{k}": v for k, v in state.items()}}
    elif nest == "lit_heatmap":  # a HeatmapModule checkpoint: backbone.body.<key>, plus head weights
        obj = {
            "state_dict": {**{f"backbone.body.{k}": v for k, v in state.items()}, "head.final.weight": torch.zeros(1)}
        }
    else:
        obj = state
    path = tmp_path / "w.pth"
    torch.save(obj, path)
    b = Backbone("test_resnet", pretrained_path=str(path))
    own = b.body.state_dict()
    assert torch.equal(own["conv1.0.weight"], state["conv1.0.weight"])
    assert torch.equal(own["layer4.0.conv2.weight"], state["layer4.0.conv2.weight"])


def test_pretrained_path_maps_flattened_stage_names(tmp_path) -> None:
    full = timm.create_model("test_convnext", pretrained=False)
    for p in full.parameters():
        p.data.uniform_()
    torch.save(full.state_dict(), tmp_path / "c.pth")
    b = Backbone("test_convnext", pretrained_path=tmp_path / "c.pth")
    own = b.body.state_dict()
    key = next(k for k in own if k.startswith("stages_1.") and k.endswith("weight"))
    assert torch.equal(own[key], full.state_dict()[key.replace("stages_1.", "stages.1.", 1)])


def test_pretrained_path_of_another_model_is_rejected(tmp_path) -> None:
    torch.save(timm.create_model("test_convnext").state_dict(), tmp_path / "other.pth")
    with pytest.raises(ValueError, match="missing"):
        Backbone("test_resnet", pretrained_path=tmp_path / "other.pth")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        Backbone("test_resnet", pretrained_path=tmp_path / "nope.pth")


def test_pretrained_path_resamples_vit_position_embedding(tmp_path) -> None:
    full = timm.create_model("test_vit", pretrained=False)  # 160 x 160 -> 10 x 10 patches
    torch.save(full.state_dict(), tmp_path / "v.pth")
    b = Backbone("test_vit", pretrained_path=tmp_path / "v.pth", img_size=[64, 48], out_indices=[-1])
    pos = b.body.state_dict()["model.pos_embed"]
    assert pos.shape[1] == 4 * 3 + full.num_prefix_tokens
    (f,) = b(torch.randn(1, 3, 64, 48))
    assert tuple(f.shape) == (1, 64, 4, 3)


def test_freeze_bn_keeps_statistics_and_affine_fixed() -> None:
    b = Backbone("test_resnet", freeze_bn=True).train()
    bn = b.body.bn1
    before = bn.running_mean.clone()
    b(torch.randn(2, 3, 64, 64) * 3 + 1)
    assert not bn.training and not bn.weight.requires_grad
    assert torch.equal(bn.running_mean, before)
    trainable = Backbone("test_resnet").train()
    trainable(torch.randn(2, 3, 64, 64) * 3 + 1)
    assert not torch.equal(trainable.body.bn1.running_mean, torch.zeros_like(before))
