"""channels_last (NHWC) gives the NCHW results: every head of conf/head, in float32 (tight) and under bf16
autocast on the CPU (bf16 tolerance); the decoders read NHWC and other strided (non-contiguous) outputs;
a channels_last model's state_dict loads into a plain NCHW model with the same outputs (checkpoints and
exports are layout-free); the optimizer gets the fastest implementation of its device."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch

from lit_heatmap.data import DatasetMeta
from lit_heatmap.module import HeatmapModule, optimizer_speed_kwargs

from .test_model_configs import _config, _node

META = DatasetMeta("three", 3, ["a", "b", "c"], [], [0, 1, 2], [0.05] * 3, (96, 64))

# one (encoding, decoder, loss) per head option (conf/head/*.yaml)
HEADS = {
    "multiscale_sum64": ("heatmap2d", "dark", "mse"),
    "deconv": ("heatmap2d", "dark", "mse"),
    "multiscale": ("heatmap2d", "marginal", "mse"),
    "simcc": ("simcc", "soft_argmax", "kl"),
    "hybrid": ("hybrid", "hybrid", "hybrid"),
}


def test_every_head_option_is_covered() -> None:
    from .test_model_configs import _options

    assert set(_options("head")) == set(HEADS)


def _model(head: str, **kw: Any) -> HeatmapModule:
    encoding, decoder, loss = HEADS[head]
    torch.manual_seed(0)
    return HeatmapModule(
        backbone={**_config("backbone", "resnet10t"), "name": "test_resnet"},
        head=_config("head", head),
        encoding=_config("encoding", encoding, (96, 64)),
        decoder=_config("decoder", decoder),
        loss=_config("loss", loss),
        meta=META,
        optimizer={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3},
        **kw,
    )


def _batch(n: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return {
        "image": torch.randint(0, 256, (n, 3, 64, 96), dtype=torch.uint8, generator=g),
        "keypoints": torch.rand(n, 3, 2, generator=g) * torch.tensor([95.0, 63.0]),
        "visibility": torch.ones(n, 3),
    }


def _tensors(output: Any) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    return [t for item in output for t in _tensors(item)]


def _assert_outputs_close(a: Any, b: Any, **tol: float) -> None:
    for x, y in zip(_tensors(a), _tensors(b), strict=True):
        torch.testing.assert_close(x.float(), y.float(), **tol)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_channels_last_equals_nchw_float32(head: str) -> None:
    nchw, nhwc = _model(head), _model(head)
    nhwc.use_channels_last(True)
    assert next(p for p in nhwc.backbone.parameters() if p.dim() == 4).is_contiguous(memory_format=torch.channels_last)
    batch = _batch()
    # training mode (BatchNorm on batch statistics): loss and gradients
    loss_a, loss_b = nchw.training_step(batch, 0), nhwc.training_step(batch, 0)
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-6)
    loss_a.backward()
    loss_b.backward()
    for (name, pa), pb in zip(nchw.named_parameters(), nhwc.parameters(), strict=True):
        # float32 sums in another order; a rounding flip of a ReLU / max-pool choice moves a gradient
        # by ~1e-4 of its norm (multiscale, measured 3.5e-4 against float64); a layout bug moves it by ~1
        rel = (pa.grad - pb.grad).norm() / pa.grad.norm().clamp_min(1e-12)
        assert rel < 2e-3, f"{name}: relative gradient difference {rel:.2e}"
    # eval mode: raw outputs and decoded keypoints
    nchw.eval()
    nhwc.eval()
    with torch.no_grad():
        out_a, out_b = nchw(batch["image"]), nhwc(batch["image"])
        _assert_outputs_close(out_a, out_b, rtol=1e-4, atol=1e-5)
        (ka, sa), (kb, sb) = nchw.decode(out_a), nhwc.decode(out_b)
    torch.testing.assert_close(ka, kb, rtol=0, atol=1e-3)
    torch.testing.assert_close(sa, sb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_channels_last_equals_nchw_under_bf16_autocast(head: str) -> None:
    """bf16 (8 mantissa bits) rounds differently per layout: NHWC's error against the float32 result is
    of the size of NCHW's (<= 2x + 1/256 of the output range), and both stay within bf16 tolerance."""
    nchw, nhwc = _model(head).eval(), _model(head).eval().use_channels_last(True)
    images = _batch()["image"]
    with torch.no_grad():
        reference = nchw(images)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out_a, out_b = nchw(images), nhwc(images)
    assert any(t.dtype == torch.bfloat16 for t in _tensors(out_b)), "autocast did not run in bf16"
    for ref, a, b in zip(_tensors(reference), _tensors(out_a), _tensors(out_b), strict=True):
        scale = ref.abs().max().item()
        err_a, err_b = (a.float() - ref).abs().max().item(), (b.float() - ref).abs().max().item()
        assert err_b <= 2 * err_a + scale / 256, (err_a, err_b, scale)
        torch.testing.assert_close(b.float(), a.float(), rtol=1.6e-2, atol=0.05 * scale)


def test_channels_last_state_dict_loads_into_an_nchw_model() -> None:
    """What a checkpoint / export sees: the weights, whatever the training layout."""
    trained = _model("deconv").use_channels_last(True)
    fresh = _model("deconv")
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(0.01 * torch.randn_like(p))
    fresh.load_state_dict(trained.state_dict())
    assert all(p.is_contiguous() for p in fresh.parameters())
    trained.eval()
    fresh.eval()
    images = _batch()["image"]
    with torch.no_grad():
        torch.testing.assert_close(fresh(images), trained(images), rtol=1e-4, atol=1e-5)


def test_flip_test_reads_channels_last_outputs() -> None:
    nchw = _model("deconv", flip_test=True).eval()
    nhwc = _model("deconv", flip_test=True).eval().use_channels_last(True)
    images = _batch()["image"]
    with torch.no_grad():
        torch.testing.assert_close(nhwc.predict_output(images), nchw.predict_output(images), rtol=1e-4, atol=1e-5)


def test_channels_last_setting_is_checked_and_defaults_to_cuda_only() -> None:
    with pytest.raises(ValueError, match="model.channels_last"):
        _model("deconv", channels_last="yes")
    model = _model("deconv")
    assert model.channels_last_setting == "auto" and not model._channels_last
    assert "channels_last" not in model.hparams and "compile" not in model.hparams


# ------------------------------------------------------------------ decoders on strided outputs
def _strided(t: torch.Tensor) -> torch.Tensor:
    """The same values in a non-contiguous layout: NHWC for 4D maps, (B, L, K) storage for 3D vectors."""
    if t.dim() == 4:
        out = t.contiguous(memory_format=torch.channels_last)
    else:
        out = t.transpose(1, 2).contiguous().transpose(1, 2)
    assert not out.is_contiguous() and torch.equal(out, t)
    return out


def _strided_output(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return _strided(output)
    return type(output)(_strided_output(o) for o in output)


DECODE_CASES = [
    ("heatmap2d", "argmax"),
    ("heatmap2d", "quarter_offset"),
    ("heatmap2d", "dark"),
    ("heatmap2d", "soft_argmax"),
    ("heatmap2d", "marginal"),
    ("udp", "dark"),
    ("simcc", "argmax"),
    ("simcc", "soft_argmax"),
    ("hybrid", "hybrid"),
]


@pytest.mark.parametrize(("encoding", "decoder"), DECODE_CASES)
def test_decoders_read_strided_outputs(encoding: str, decoder: str) -> None:
    """Targets encoded from known keypoints decode to the same keypoints from NHWC / transposed storage
    as from contiguous tensors (the strided windows of codecs.refine read logical, not storage, order)."""
    enc, dec = _node("encoding", encoding, (96, 64)), _node("decoder", decoder)
    g = torch.Generator().manual_seed(3)
    keypoints = 6 + torch.rand(4, 3, 2, generator=g) * torch.tensor([83.0, 51.0])
    target, _ = enc.encode(keypoints, torch.ones(4, 3))
    kpts, scores = dec.decode(target, enc)
    kpts_s, scores_s = dec.decode(_strided_output(target), enc)
    torch.testing.assert_close(kpts_s, kpts, rtol=0, atol=1e-4)
    torch.testing.assert_close(scores_s, scores, rtol=0, atol=1e-5)
    # and the decoded keypoints are the encoded ones (to the decoder's precision: half a stride-4 bin = 2 px)
    tol = {"argmax": 2.0, "quarter_offset": 2.0}.get(decoder, 0.1)
    assert (kpts_s - keypoints).abs().max() <= tol


# ------------------------------------------------------------------ optimizer implementation
def test_optimizer_gets_foreach_on_cpu_and_keeps_an_explicit_choice() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    make = functools.partial(torch.optim.AdamW, lr=1e-3)
    assert optimizer_speed_kwargs(make, params) == {"foreach": True}
    assert optimizer_speed_kwargs(functools.partial(torch.optim.AdamW, fused=False), params) == {}
    assert optimizer_speed_kwargs(functools.partial(torch.optim.SGD, lr=0.1, foreach=False), params) == {}
    # a class without either argument gets nothing
    assert optimizer_speed_kwargs(functools.partial(torch.optim.LBFGS), params) == {}


def test_configure_optimizers_builds_the_fast_implementation() -> None:
    model = _model("deconv")
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["foreach"] is True
    assert not optimizer.defaults.get("fused")
