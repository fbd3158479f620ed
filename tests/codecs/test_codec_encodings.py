"""Encodings: hand-computed golden values, weights, geometry, batching and dtypes."""

from __future__ import annotations

import math

import pytest
import torch

from lit_heatmap.codecs import Heatmap2D, SimCC


def test_heatmap_size_from_stride_and_attributes() -> None:
    enc = Heatmap2D(input_size=(192, 256))
    assert enc.input_size == (192, 256) and enc.heatmap_size == (48, 64)
    assert Heatmap2D((192, 256), stride=2).heatmap_size == (96, 128)
    simcc = SimCC((192, 256))
    assert simcc.input_size == (192, 256) and simcc.split_ratio == 2.0 and simcc.simcc_size == (384, 512)


def test_unbiased_golden_tiny_map() -> None:
    # input 8x8 -> heatmap 4x4 (scale 1/2, pixel areas aligned): u = (x + 0.5) / 2 - 0.5.
    enc = Heatmap2D((8, 8), (4, 4), sigma=1.0, mode="unbiased")
    kp = torch.tensor([[[3.5, 1.5]]])  # -> heatmap (1.5, 0.5)
    assert torch.allclose(enc.to_heatmap(kp), torch.tensor([[[1.5, 0.5]]]))
    target, weight = enc.encode(kp, torch.ones(1, 1))
    t = target[0, 0]
    assert target.shape == (1, 1, 4, 4) and weight.tolist() == [[1.0]]
    # exp(-((j - 1.5)^2 + (i - 0.5)^2) / 2), computed by hand:
    assert t[0, 1].item() == pytest.approx(0.7788007831, abs=1e-7)  # d^2 = 0.5
    assert t[1, 2].item() == pytest.approx(0.7788007831, abs=1e-7)
    assert t[2, 3].item() == pytest.approx(0.1053992246, abs=1e-7)  # d^2 = 4.5
    assert t[3, 0].item() == pytest.approx(math.exp(-(2.25 + 6.25) / 2), abs=1e-7)
    assert t.max().item() < 1.0  # the peak falls between pixels


def test_msra_snaps_and_udp_scale_golden() -> None:
    msra = Heatmap2D((8, 8), (4, 4), sigma=1.0, mode="msra")
    t, _ = msra.encode(torch.tensor([[[3.5, 1.5]]]), torch.ones(1, 1))
    assert t[0, 0, 1, 2].item() == 1.0  # (1.5, 0.5): ties toward the map centre (1.5, 1.5) -> (2, 1)
    assert t[0, 0, 1, 1].item() == pytest.approx(math.exp(-0.5), abs=1e-7)
    udp = Heatmap2D((7, 7), (4, 4), sigma=1.0, mode="udp")  # scale (4-1)/(7-1) = 0.5, corners aligned
    kp = torch.tensor([[[3.0, 6.0]]])
    assert torch.allclose(udp.to_heatmap(kp), torch.tensor([[[1.5, 3.0]]]))
    assert torch.allclose(udp.to_input(udp.to_heatmap(kp)), kp)
    t, _ = udp.encode(kp, torch.ones(1, 1))
    assert t[0, 0, 3, 1].item() == pytest.approx(math.exp(-0.125), abs=1e-7)


def test_simcc_golden() -> None:
    enc = SimCC((4, 2), split_ratio=2.0, sigma=1.0)
    (x, y), w = enc.encode(torch.tensor([[[1.0, 0.0]]]), torch.ones(1, 1))
    assert x.shape == (1, 1, 8) and y.shape == (1, 1, 4) and w.item() == 1.0
    # x bin = (1.0 + 0.5) * 2 - 0.5 = 2.5, y bin = 0.5
    assert x[0, 0, 2].item() == pytest.approx(0.8824969026, abs=1e-7)
    assert x[0, 0, 3].item() == pytest.approx(0.8824969026, abs=1e-7)
    assert x[0, 0, 0].item() == pytest.approx(math.exp(-3.125), abs=1e-7)
    assert y[0, 0, 0].item() == pytest.approx(0.8824969026, abs=1e-7)
    smooth = SimCC((4, 2), 2.0, sigma=(1.0, 2.0), label_smoothing=0.1)
    (xs, ys), _ = smooth.encode(torch.tensor([[[1.0, 0.0]]]), torch.ones(1, 1))
    assert xs[0, 0, 2].item() == pytest.approx(0.9 * 0.8824969026 + 0.1 / 8, abs=1e-7)
    assert ys[0, 0, 1].item() == pytest.approx(0.9 * math.exp(-0.25 / 8) + 0.1 / 4, abs=1e-7)


@pytest.mark.parametrize("mode", ["msra", "unbiased", "udp"])
def test_weights_unlabelled_outside_partly_outside(mode: str) -> None:
    enc = Heatmap2D((192, 256), (48, 64), sigma=2.0, mode=mode)
    # 3 sigma = 6 heatmap px ~ 24 input px.  Wholly outside: centre > 3 sigma beyond the map's extent.
    kp = torch.tensor(
        [
            [
                [50.0, 50.0],
                [50.0, 50.0],
                [-40.0, 100.0],
                [100.0, 300.0],
                [-6.0, 100.0],
                [float("nan"), 3.0],
                [191.5, 255.5],
            ]
        ]
    )
    vis = torch.tensor([[1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    target, weight = enc.encode(kp, vis)
    assert weight.tolist() == [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]]
    assert target[0, [1, 2, 3, 5]].abs().max().item() == 0.0
    assert torch.isfinite(target).all()
    partly = target[0, 4]  # centre ~2 heatmap px left of the map: clipped Gaussian, weight 1
    assert 0.3 < partly.max().item() < 0.95 and partly[:, 0].argmax().item() in (24, 25)
    assert target[0, 0].max().item() == pytest.approx(1.0, abs=0.0 if mode == "msra" else 0.2)


def test_wholly_outside_boundary_is_three_sigma() -> None:
    enc = Heatmap2D((48, 64), (48, 64), sigma=2.0, mode="unbiased")  # scale 1
    kp = torch.tensor([[[-6.49, 10.0], [-6.51, 10.0], [53.49, 10.0], [53.51, 10.0]]])
    _, weight = enc.encode(kp, torch.ones(1, 4))
    assert weight.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    simcc = SimCC((10, 10), 1.0, sigma=(1.0, 2.0))
    kp = torch.tensor([[[-3.49, 0.0], [-3.51, 0.0], [0.0, 15.49], [0.0, 15.51]]])
    assert simcc.encode(kp, torch.ones(1, 4))[1].tolist() == [[1.0, 0.0, 1.0, 0.0]]


def test_encode_batched_equals_per_sample_loop() -> None:
    gen = torch.Generator().manual_seed(3)
    kp = torch.rand(5, 7, 2, generator=gen) * torch.tensor([200.0, 270.0]) - 4.0
    vis = (torch.rand(5, 7, generator=gen) > 0.3).float()
    for enc in (Heatmap2D((192, 256), None, 2.0, "udp"), SimCC((192, 256))):
        batched, weight = enc.encode(kp, vis)
        for b in range(5):
            single, w1 = enc.encode(kp[b : b + 1], vis[b : b + 1])
            assert torch.equal(w1[0], weight[b])
            if isinstance(batched, tuple):
                assert all(torch.equal(s[0], t[b]) for s, t in zip(single, batched))
            else:
                assert torch.equal(single[0], batched[b])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_encode_half_precision(dtype: torch.dtype) -> None:
    kp = torch.tensor([[[40.0, 100.0], [150.25, 7.5]]])
    vis = torch.ones(1, 2)
    enc = Heatmap2D((192, 256))
    t16, w16 = enc.encode(kp.to(dtype), vis.to(dtype))
    t32, _ = enc.encode(kp.to(dtype).float(), vis)  # same (rounded) coordinates
    assert t16.dtype == dtype and w16.dtype == dtype
    assert (t16.float() - t32).abs().max().item() < 1e-2
    (x, y), w = SimCC((192, 256)).encode(kp.to(dtype), vis)
    assert x.dtype == dtype and y.dtype == dtype and w.dtype == dtype


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="mode"):
        Heatmap2D((192, 256), mode="bilinear")
    with pytest.raises(ValueError, match="input_size"):
        Heatmap2D((192, 256, 3))
    with pytest.raises(ValueError, match="sigma"):
        Heatmap2D((192, 256), sigma=0)
    with pytest.raises(ValueError, match="integers"):
        SimCC((191, 256), split_ratio=2.5)
    with pytest.raises(ValueError, match=r"keypoints must be \(B, K, 2\)"):
        Heatmap2D((192, 256)).encode(torch.zeros(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match="visibility"):
        SimCC((192, 256)).encode(torch.zeros(2, 3, 2), torch.ones(2, 4))
