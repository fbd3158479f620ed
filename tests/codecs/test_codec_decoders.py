"""Decoders: round-trip precision (borders included), golden values, pairing errors, autograd, dtypes."""

from __future__ import annotations

import math

import pytest
import torch

from lit_heatmap.codecs import (
    ArgmaxDecoder,
    DarkDecoder,
    Heatmap2D,
    MarginalDecoder,
    QuarterOffsetDecoder,
    SimCC,
    SoftArgmaxDecoder,
)

INPUT = (192, 256)


def sample_keypoints(n_batches: int = 2, seed: int = 0) -> torch.Tensor:
    """(n_batches*32, 17, 2) uniform over [-0.5, W-0.5] x [-0.5, H-0.5] plus exact border/corner points."""
    gen = torch.Generator().manual_seed(seed)
    kp = torch.rand(n_batches * 32, 17, 2, generator=gen) * torch.tensor(INPUT, dtype=torch.float32) - 0.5
    border = torch.tensor(
        [
            [-0.5, -0.5],
            [191.5, 255.5],
            [-0.5, 100.3],
            [191.5, 7.7],
            [55.5, -0.5],
            [0.0, 255.5],
            [0.2, 0.3],
            [190.9, 254.8],
        ]
    )
    kp[0, : len(border)] = border
    return kp


def noisy(target, seed: int):
    gen = torch.Generator().manual_seed(seed)
    if isinstance(target, tuple):
        return tuple(t + 0.05 * torch.randn(t.shape, generator=gen) for t in target)
    return target + 0.05 * torch.randn(target.shape, generator=gen)


def round_trip(enc, dec, kp: torch.Tensor, noise_seed: int | None = None) -> torch.Tensor:
    target, _ = enc.encode(kp, torch.ones(kp.shape[:2]))
    if noise_seed is not None:
        target = noisy(target, noise_seed)
    pred, score = dec.decode(target, enc)
    assert pred.shape == kp.shape and score.shape == kp.shape[:2] and pred.dtype == torch.float32
    assert torch.isfinite(pred).all() and torch.isfinite(score).all()
    lo, hi = torch.tensor([-0.5, -0.5]), torch.tensor(INPUT) - 0.5
    assert (pred >= lo - 1.0).all() and (pred <= hi + 1.0).all()
    return (pred - kp).norm(dim=-1)


@pytest.mark.parametrize("mode", ["unbiased", "udp"])
def test_dark_perfect_targets_exact_including_borders(mode: str) -> None:
    err = round_trip(Heatmap2D(INPUT, (48, 64), 2.0, mode), DarkDecoder(11), sample_keypoints())
    assert err.mean().item() <= 0.02 and err.max().item() <= 0.1
    assert err[0, :8].max().item() <= 0.1  # the border and corner points


@pytest.mark.parametrize("mode", ["unbiased", "udp"])
def test_dark_noisy_targets(mode: str) -> None:
    err = round_trip(Heatmap2D(INPUT, (48, 64), 2.0, mode), DarkDecoder(11), sample_keypoints(), noise_seed=1)
    assert err.mean().item() <= 0.35


def test_marginal_perfect_targets_exact() -> None:
    err = round_trip(Heatmap2D(INPUT, (48, 64), 2.0, "unbiased"), MarginalDecoder(), sample_keypoints())
    assert err.max().item() <= 0.1


@pytest.mark.parametrize("decoder", [DarkDecoder(11), SoftArgmaxDecoder(beta=20.0)])
def test_simcc_perfect_targets(decoder) -> None:
    err = round_trip(SimCC(INPUT, 2.0, (4.9, 5.66)), decoder, sample_keypoints())
    assert err.mean().item() <= 0.02


def test_simcc_taylor_noisy_and_argmax_quantisation() -> None:
    enc = SimCC(INPUT, 2.0, (4.9, 5.66))
    assert round_trip(enc, DarkDecoder(11), sample_keypoints(), noise_seed=2).mean().item() <= 0.25
    err = round_trip(enc, ArgmaxDecoder(), sample_keypoints())
    assert err.max().item() <= math.hypot(0.25, 0.25) + 1e-4  # half a bin per axis at r=2


def test_msra_quarter_offset_is_the_methods_quantisation() -> None:
    err = round_trip(Heatmap2D(INPUT, (48, 64), 2.0, "msra"), QuarterOffsetDecoder(), sample_keypoints())
    # uniform error in a 4x4 px square: mean distance 0.3826 * 4 = 1.53 px
    assert 1.4 <= err.mean().item() <= 1.65
    assert err.max().item() <= math.hypot(2.0, 2.0) + 1e-3


def test_golden_argmax_quarter_offset_and_scores() -> None:
    enc = Heatmap2D((8, 12), (4, 6), sigma=1.0, mode="unbiased")  # u = (x + 0.5) / 2 - 0.5
    hm = torch.zeros(1, 2, 6, 4)
    hm[0, 0, 2, 1], hm[0, 0, 2, 2], hm[0, 0, 2, 0] = 0.9, 0.5, 0.2  # right neighbour higher
    hm[0, 0, 1, 1], hm[0, 0, 3, 1] = 0.3, 0.6  # lower neighbour higher
    hm[0, 1, 0, 3], hm[0, 1, 0, 2] = 0.7, 0.1  # on the top-right corner: no offset possible
    kp, score = ArgmaxDecoder().decode(hm, enc)
    assert kp.tolist() == [[[2.5, 4.5], [6.5, 0.5]]]  # heatmap (1, 2) -> input (2.5, 4.5)
    assert score[0].tolist() == pytest.approx([0.9, 0.7])
    kp, _ = QuarterOffsetDecoder().decode(hm, enc)
    assert kp.tolist() == [[[3.0, 5.0], [6.5, 0.5]]]  # (1.25, 2.25) -> (3.0, 5.0)


def test_golden_dark_and_soft_argmax_on_tiny_map() -> None:
    enc = Heatmap2D((8, 8), (4, 4), sigma=1.0, mode="unbiased")
    kp = torch.tensor([[[3.5, 1.5], [0.3, 6.9]]])  # heatmap (1.5, 0.5) and (-0.1, 3.2): a corner peak
    target, _ = enc.encode(kp, torch.ones(1, 2))
    pred, score = DarkDecoder(kernel_size=5).decode(target, enc)  # >= 3 in-map samples per axis
    assert torch.allclose(pred, kp, atol=1e-4)
    assert score[0, 0].item() == pytest.approx(0.7788007831, abs=1e-6)  # max pixel of the first map
    # soft-argmax of a two-pixel map: p = softmax(beta * [1, 0]) over x = {1, 2}
    hm = torch.full((1, 1, 1, 4), -1e4)
    hm[0, 0, 0, 1], hm[0, 0, 0, 2] = 1.0, 0.0
    one_row = Heatmap2D((4, 1), (4, 1), 1.0, "unbiased")
    x = SoftArgmaxDecoder(beta=2.0).decode(hm, one_row)[0][0, 0, 0].item()
    p2 = 1.0 / (1.0 + math.exp(2.0))
    assert x == pytest.approx(1.0 + p2, abs=1e-6)


def test_soft_argmax_gradients_match_closed_form() -> None:
    enc = SimCC((8, 4), split_ratio=1.0, sigma=1.0)
    x = torch.randn(1, 1, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    y = torch.randn(1, 1, 4, requires_grad=True)
    beta = 1.5
    pred, _ = SoftArgmaxDecoder(beta=beta).decode((x, y), enc)
    pred[0, 0, 0].backward()
    # d E[i] / d v_j = beta * p_j * (j - E[i]); input px = bin (r = 1)
    p = torch.softmax(beta * x.detach()[0, 0], 0)
    grid = torch.arange(8.0)
    expected = beta * p * (grid - (p * grid).sum())
    assert torch.allclose(x.grad[0, 0], expected, atol=1e-6)
    hm = torch.randn(2, 3, 6, 5, requires_grad=True)
    out, _ = SoftArgmaxDecoder(beta=3.0, window=2).decode(hm, Heatmap2D((20, 24), (5, 6)))
    out.sum().backward()
    assert torch.isfinite(hm.grad).all() and hm.grad.abs().sum() > 0


def test_decode_batched_equals_per_sample_loop() -> None:
    kp = sample_keypoints(1, seed=5)[:6]
    for enc, dec in (
        (Heatmap2D(INPUT, (48, 64), 2.0, "udp"), DarkDecoder()),
        (SimCC(INPUT), DarkDecoder()),
        (Heatmap2D(INPUT), MarginalDecoder()),
        (Heatmap2D(INPUT), SoftArgmaxDecoder(5.0, 3)),
    ):
        target = noisy(enc.encode(kp, torch.ones(kp.shape[:2]))[0], 7)
        batched, bscore = dec.decode(target, enc)
        for b in range(kp.shape[0]):
            one = tuple(t[b : b + 1] for t in target) if isinstance(target, tuple) else target[b : b + 1]
            single, sscore = dec.decode(one, enc)
            assert torch.allclose(single[0], batched[b], atol=1e-5) and torch.allclose(sscore[0], bscore[b])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "dec", [ArgmaxDecoder(), QuarterOffsetDecoder(), DarkDecoder(), SoftArgmaxDecoder(10.0, 3), MarginalDecoder()]
)
def test_half_precision_outputs(dtype: torch.dtype, dec) -> None:
    enc = Heatmap2D(INPUT)
    kp = sample_keypoints(1)[:4]
    target, _ = enc.encode(kp, torch.ones(kp.shape[:2]))
    ref, _ = dec.decode(target, enc)
    pred, score = dec.decode(target.to(dtype), enc)
    assert pred.dtype == torch.float32 and torch.isfinite(pred).all()
    # bf16 has 8 mantissa bits: near-equal pixels can tie, moving an integer argmax by one heatmap px (4 px)
    tol = {DarkDecoder: 0.05, MarginalDecoder: 0.05, SoftArgmaxDecoder: 0.3}.get(type(dec), 4 * math.sqrt(2) + 1e-3)
    assert (pred - ref).norm(dim=-1).max().item() <= tol
    (x, y), _ = SimCC(INPUT).encode(kp, torch.ones(kp.shape[:2]))
    if not isinstance(dec, (QuarterOffsetDecoder, MarginalDecoder)):
        pred1d, _ = dec.decode((x.to(dtype), y.to(dtype)), SimCC(INPUT))
        assert (pred1d - dec.decode((x, y), SimCC(INPUT))[0]).norm(dim=-1).max().item() <= tol


def test_impossible_pairings_raise_naming_both_classes() -> None:
    simcc = SimCC(INPUT)
    for dec in (QuarterOffsetDecoder(), MarginalDecoder()):
        with pytest.raises(ValueError, match=rf"{type(dec).__name__}.*SimCC"):
            dec.check(simcc)
        with pytest.raises(ValueError, match="SimCC"):
            dec.decode((torch.zeros(1, 1, 384), torch.zeros(1, 1, 512)), simcc)
    with pytest.raises(ValueError, match="DarkDecoder.*object"):
        DarkDecoder().check(object())
    for dec in (ArgmaxDecoder(), DarkDecoder(), SoftArgmaxDecoder()):
        dec.check(simcc)
        dec.check(Heatmap2D(INPUT))
    with pytest.raises(ValueError, match=r"expects output \(B, K, 64, 48\)"):
        DarkDecoder().decode(torch.zeros(1, 1, 48, 64), Heatmap2D(INPUT))
    with pytest.raises(ValueError, match="kernel_size"):
        DarkDecoder(kernel_size=4)


def test_degenerate_outputs_give_finite_keypoints() -> None:
    enc = Heatmap2D(INPUT)
    for hm in (torch.zeros(1, 2, 64, 48), -torch.ones(1, 2, 64, 48), torch.full((1, 2, 64, 48), 5.0)):
        for dec in (DarkDecoder(), MarginalDecoder(), QuarterOffsetDecoder(), SoftArgmaxDecoder()):
            pred, score = dec.decode(hm, enc)
            assert torch.isfinite(pred).all() and torch.isfinite(score).all()


def test_two_level_argmax_matches_torch_max_with_ties() -> None:
    from lit_heatmap.codecs.refine import argmax_flat

    gen = torch.Generator().manual_seed(0)
    flat = torch.randint(0, 5, (300, 3072), generator=gen).float()  # many ties: first occurrence wins
    flat[7] = 0.0
    val, idx = argmax_flat(flat)
    ref_val, ref_idx = flat.max(dim=1)
    assert torch.equal(val, ref_val) and torch.equal(idx, ref_idx)
    odd = torch.randn(4, 97, generator=gen)  # no suitable block size: plain max
    assert torch.equal(argmax_flat(odd)[1], odd.argmax(1))


def test_simcc_score_is_min_of_axis_maxima_and_argmax_golden() -> None:
    enc = SimCC((4, 2), split_ratio=2.0, sigma=1.0)  # 8 x-bins, 4 y-bins; input = (bin + 0.5) / 2 - 0.5
    x = torch.tensor([[[0.0, 0.1, 0.2, 0.9, 0.3, 0.0, 0.0, 0.0]]])
    y = torch.tensor([[[0.1, 0.6, 0.2, 0.0]]])
    kp, score = ArgmaxDecoder().decode((x, y), enc)
    assert kp.tolist() == [[[1.25, 0.25]]]  # bins (3, 1)
    assert score.tolist() == [[pytest.approx(0.6)]]


def test_parabola_solvers_match_weighted_polyfit() -> None:
    """Each solver row reproduces numpy's weighted polyfit (the oracle) and is exact on parabolas."""
    import numpy as np

    from lit_heatmap.codecs.refine import gaussian_table, parabola_solvers

    size, sigma = 11, 2.0
    solvers = parabola_solvers(size, sigma, torch.device("cpu")).double()
    d = np.arange(-5, 6, dtype=np.float64)
    rng = np.random.default_rng(0)
    y = rng.normal(size=size)
    weights = gaussian_table(size, sigma, dtype=torch.float64).numpy()  # polyfit weights multiply residuals: g, not g^2
    for j in range(size):
        c2, c1, _ = np.polyfit(d, y, 2, w=weights[j])
        assert solvers[j] @ torch.from_numpy(y) == pytest.approx([c1, c2], rel=1e-5, abs=1e-6)
        exact = 0.3 - 0.7 * d - 0.125 * d**2  # vertex at -0.7 / 0.25 = -2.8
        assert solvers[j] @ torch.from_numpy(exact) == pytest.approx([-0.7, -0.125], abs=1e-6)


def test_dark_on_maps_too_small_to_fit_and_tiny_sigma() -> None:
    """1-2 px maps keep the integer argmax (no 3-sample window); a tiny sigma still solves."""
    for w, h in ((1, 6), (2, 2), (5, 1)):
        enc = Heatmap2D((4 * w, 4 * h), (w, h), sigma=1.0, mode="unbiased")
        hm = torch.zeros(1, 1, h, w)
        hm[0, 0, h - 1, w - 1] = 1.0
        assert DarkDecoder().decode(hm, enc)[0].tolist() == ArgmaxDecoder().decode(hm, enc)[0].tolist()
    enc = Heatmap2D(INPUT, (48, 64), sigma=0.3, mode="unbiased")
    kp = sample_keypoints(1)[:2]
    target, _ = enc.encode(kp, torch.ones(kp.shape[:2]))
    pred, _ = DarkDecoder().decode(target, enc)
    assert torch.isfinite(pred).all() and (pred - kp).norm(dim=-1).max().item() <= 2.9  # <= argmax's
