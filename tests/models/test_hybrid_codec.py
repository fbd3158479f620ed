"""Hybrid encoding and HybridDecoder (lit_heatmap/codecs/hybrid.py)."""

from __future__ import annotations

import pytest
import torch

from lit_heatmap.codecs import (
    DarkDecoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    SimCC,
    flip_output,
)
from lit_heatmap.codecs.hybrid import marginal_log_prob

HM = Heatmap2D((64, 48), sigma=2.0, mode="unbiased")  # 16 x 12 heatmaps
SC = SimCC((64, 48), split_ratio=2.0, sigma=3.0)  # 128 x-bins, 96 y-bins
ENC = Hybrid(HM, SC)


def _perfect(kpts: torch.Tensor, beta: float = 10.0):
    """Hybrid output whose SimCC softmax(beta x) equals the label distribution (logits = label)."""
    (hm, (x, y)), w = ENC.encode(kpts, torch.ones(kpts.shape[:2]))
    return (hm, (x, y)), w


def test_encode_gives_both_targets_and_the_product_weight() -> None:
    kpts = torch.tensor([[[10.25, 20.5], [63.0, 47.0], [-40.0, 10.0]]])
    vis = torch.tensor([[1.0, 1.0, 1.0]])
    (hm, (x, y)), w = ENC.encode(kpts, vis)
    assert tuple(hm.shape) == (1, 3, 12, 16) and tuple(x.shape) == (1, 3, 128) and tuple(y.shape) == (1, 3, 96)
    hm_ref, w_hm = HM.encode(kpts, vis)
    (x_ref, _), w_sc = SC.encode(kpts, vis)
    assert torch.equal(hm, hm_ref) and torch.equal(x, x_ref)
    assert w.tolist() == [[1.0, 1.0, 0.0]] and torch.equal(w, w_hm * w_sc)


def test_hybrid_rejects_mismatched_parts() -> None:
    with pytest.raises(ValueError, match="input_size"):
        Hybrid(HM, SimCC((32, 48)))
    with pytest.raises(ValueError, match="Heatmap2D and a SimCC"):
        Hybrid(SC, HM)


def test_marginal_peaks_on_the_keypoint_bins() -> None:
    kpts = torch.tensor([[[21.0, 30.5]]])
    hm, _ = HM.encode(kpts, torch.ones(1, 1))
    lx, ly = marginal_log_prob(hm, ENC, floor=1e-3)
    # bin b is centred on input x = (b + 0.5) / 2 - 0.5: x = 21 -> b = 42.5 (bins 42/43 tie), y = 30.5 -> b = 61.5
    assert int(lx[0, 0].argmax()) in (42, 43) and int(ly[0, 0].argmax()) in (61, 62)
    assert torch.allclose(lx[0, 0, 42], lx[0, 0, 43], atol=1e-3)
    assert torch.allclose(ly[0, 0, 61], ly[0, 0, 62], atol=1e-3)
    # the log-marginal is the Gaussian's quadratic: symmetric about the keypoint's bin
    assert torch.allclose(lx[0, 0, 42 - 5], lx[0, 0, 43 + 5], atol=1e-3)


@pytest.mark.parametrize("mode", ["product", "heatmap", "simcc"])
def test_decoding_perfect_targets_is_accurate(mode: str) -> None:
    g = torch.Generator().manual_seed(0)
    kpts = torch.rand(4, 17, 2, generator=g) * torch.tensor([50.0, 34.0]) + 7.0
    output, _ = _perfect(kpts)
    pred, scores = HybridDecoder(mode=mode).decode(output, ENC)
    err = (pred - kpts).norm(dim=-1)
    assert err.mean() < 0.05 and err.max() < 0.2, (mode, float(err.mean()), float(err.max()))
    assert tuple(scores.shape) == (4, 17)


def test_the_heatmap_resolves_a_false_simcc_mode() -> None:
    """SimCC puts a slightly higher false peak 20 px away; the 2D marginal makes the product pick the truth."""
    kpts = torch.tensor([[[20.3, 24.0]]])
    (hm, (x, y)), _ = _perfect(kpts)
    decoy, _ = SC.encode(torch.tensor([[[40.3, 24.0]]]), torch.ones(1, 1))
    x_confused = torch.maximum(x, 1.05 * decoy[0])
    simcc_only, _ = HybridDecoder(mode="simcc").decode((hm, (x_confused, y)), ENC)
    fused, _ = HybridDecoder(mode="product").decode((hm, (x_confused, y)), ENC)
    assert abs(float(simcc_only[0, 0, 0]) - 40.3) < 0.5  # SimCC alone follows the decoy
    assert abs(float(fused[0, 0, 0]) - 20.3) < 0.2


def test_heatmap_mode_equals_the_2d_decoder() -> None:
    kpts = torch.tensor([[[11.7, 33.2], [50.1, 5.5]]])
    output, _ = _perfect(kpts)
    a, sa = HybridDecoder(mode="heatmap").decode(output, ENC)
    b, sb = DarkDecoder().decode(output[0], HM)
    assert torch.equal(a, b) and torch.equal(sa, sb)


def test_flip_output_twice_is_identity_and_matches_the_mirrored_image() -> None:
    flip_index = [1, 0]
    kpts = torch.tensor([[[10.0, 20.0], [40.0, 22.0]]])
    output, _ = _perfect(kpts)
    twice = flip_output(flip_output(output, ENC, flip_index), ENC, flip_index)
    assert (
        torch.equal(twice[0], output[0])
        and torch.equal(twice[1][0], output[1][0])
        and torch.equal(twice[1][1], output[1][1])
    )
    # flipping the targets of an image equals the targets of the mirrored image (x -> W - 1 - x, swap)
    mirrored = torch.stack([63.0 - kpts[0, [1, 0], 0], kpts[0, [1, 0], 1]], -1)[None]
    target_mirrored, _ = _perfect(mirrored)
    flipped = flip_output(output, ENC, flip_index)
    assert torch.allclose(flipped[0], target_mirrored[0], atol=1e-5)
    assert torch.allclose(flipped[1][0], target_mirrored[1][0], atol=1e-5)


def test_decoder_pairing_errors_name_both_classes() -> None:
    with pytest.raises(ValueError, match="HybridDecoder cannot decode the output of Heatmap2D"):
        HybridDecoder().check(HM)
    with pytest.raises(ValueError, match="DarkDecoder cannot decode the output of Hybrid"):
        DarkDecoder().check(ENC)
    with pytest.raises(ValueError, match="mode"):
        HybridDecoder(mode="mean")
