"""Losses: hand-computed golden values, weighting, OHKM, gradients, pairing checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lit_heatmap.codecs import Heatmap2D, Hybrid, SimCC, check_compatible
from lit_heatmap.models import (
    AdaptiveWingLoss,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SoftArgmaxLoss,
)


def _mse_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out = torch.zeros(1, 2, 2, 2)
    tgt = torch.zeros(1, 2, 2, 2)
    tgt[0, 0, 0, 0] = 1.0  # keypoint 0: squared error 1 on 1 of 4 pixels -> 0.25
    tgt[0, 1, 1, 1] = 2.0  # keypoint 1: squared error 4 on 1 of 4 pixels -> 1.0
    return out, tgt, torch.tensor([[1.0, 0.0]])


def test_mse_golden_values() -> None:
    out, tgt, w = _mse_case()
    assert KeypointMSELoss()(out, tgt, w).item() == pytest.approx(0.125)  # (0.25*1 + 1.0*0) / 2
    assert KeypointMSELoss(use_target_weight=False)(out, tgt, w).item() == pytest.approx(0.625)
    assert KeypointMSELoss(use_target_weight=False, ohkm_topk=1)(out, tgt, w).item() == pytest.approx(1.0)
    assert KeypointMSELoss(loss_weight=2.0)(out, tgt, w).item() == pytest.approx(0.25)
    # MMPose's formula: F.mse_loss(out * w, tgt * w) over all pixels
    ref = F.mse_loss(out * w[..., None, None], tgt * w[..., None, None])
    assert KeypointMSELoss()(out, tgt, w).item() == pytest.approx(ref.item())


def test_mse_rejects_bad_ohkm() -> None:
    with pytest.raises(ValueError, match="ohkm_topk"):
        KeypointMSELoss(ohkm_topk=0)


def test_kl_golden_values() -> None:
    logits = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))  # uniform p = 1/4
    label = (torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]), torch.tensor([[[1.0, 1.0, 0.0, 0.0]]]))
    w = torch.ones(1, 1)
    # label normalised: q = (1/2, 1/2, 0, 0): KL = log 2 per axis
    loss = KLDiscreteLoss(beta=1.0, label_softmax=False)(logits, label, w)
    assert loss.item() == pytest.approx(2 * math.log(2), rel=1e-6)
    # with label softmax: independent oracle, torch's kl_div
    q = torch.softmax(torch.tensor([1.0, 1.0, 0.0, 0.0]) * 3.0, 0)
    ref = 2 * F.kl_div(torch.log_softmax(torch.zeros(4), 0), q, reduction="sum")
    got = KLDiscreteLoss(beta=3.0, label_softmax=True)(logits, label, w)
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)
    assert KLDiscreteLoss(beta=1.0, label_softmax=False)(logits, label, torch.zeros(1, 1)).item() == 0.0


def test_kl_is_zero_at_the_label_and_decreases_toward_it() -> None:
    enc = SimCC((32, 16), split_ratio=2.0, sigma=2.0)
    (x, y), w = enc.encode(torch.tensor([[[10.3, 7.6]]]), torch.ones(1, 1))
    loss = KLDiscreteLoss(beta=10.0, label_softmax=True)
    assert loss((x, y), (x, y), w).item() == pytest.approx(0.0, abs=1e-6)
    far = loss((x.roll(3, -1), y), (x, y), w).item()
    near = loss((x.roll(1, -1), y), (x, y), w).item()
    assert 0 < near < far


def test_adaptive_wing_golden_values() -> None:
    loss = AdaptiveWingLoss()  # alpha 2.1, omega 14, epsilon 1, theta 0.5
    tgt = torch.zeros(1, 1, 1, 2)
    out = torch.tensor([[[[0.25, 1.0]]]])
    # pixel 1: |d| = 0.25 < theta: 14 * log(1 + 0.25^2.1)
    small = 14 * math.log1p(0.25**2.1)
    # pixel 2: |d| = 1 >= theta: A*1 - C with A, C from the paper (Wang et al. 2019, eq. 6)
    a, r = 2.1, 0.5
    big_a = 14 / (1 + r**a) * a * r ** (a - 1)
    c = 0.5 * big_a - 14 * math.log1p(r**a)
    assert small == pytest.approx(0.741731, abs=1e-5)
    assert big_a - c == pytest.approx(8.49594, abs=1e-4)
    got = loss(out, tgt, torch.ones(1, 1)).item()
    assert got == pytest.approx((small + big_a - c) / 2, rel=1e-5)


def test_adaptive_wing_is_continuous_at_theta() -> None:
    loss = AdaptiveWingLoss()
    tgt = torch.full((1, 1, 1, 1), 0.3)
    lo = loss(torch.full((1, 1, 1, 1), 0.3 + 0.5 - 1e-5), tgt, torch.ones(1, 1)).item()
    hi = loss(torch.full((1, 1, 1, 1), 0.3 + 0.5 + 1e-5), tgt, torch.ones(1, 1)).item()
    assert lo == pytest.approx(hi, abs=1e-3)


def test_soft_argmax_loss_golden_value_and_gradient() -> None:
    enc = Heatmap2D((32, 32), heatmap_size=(8, 8), sigma=1.0, mode="unbiased")
    out = torch.zeros(1, 1, 8, 8)
    out[0, 0, 2, 3] = 100.0  # all the softmax mass on heatmap px (3, 2) -> input px (13.5, 9.5)
    out.requires_grad_(True)
    kpts = torch.tensor([[[12.5, 9.5]]])
    loss = SoftArgmaxLoss(beta=1.0)(out, None, torch.ones(1, 1), keypoints=kpts, encoding=enc)
    assert loss.item() == pytest.approx(1.0 / 4.0, abs=1e-4)  # 1 input px = 1/4 heatmap px
    soft = torch.randn(1, 1, 8, 8, requires_grad=True)
    SoftArgmaxLoss()(soft, None, torch.ones(1, 1), keypoints=kpts, encoding=enc).backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0


def test_soft_argmax_loss_needs_keypoints() -> None:
    with pytest.raises(ValueError, match="keypoints"):
        SoftArgmaxLoss()(torch.zeros(1, 1, 8, 8), None, torch.ones(1, 1))


def test_hybrid_loss_is_the_weighted_sum() -> None:
    hm, sc = Heatmap2D((32, 32), heatmap_size=(8, 8)), SimCC((32, 32), split_ratio=2.0, sigma=2.0)
    enc = Hybrid(hm, sc)
    kpts = torch.tensor([[[10.0, 20.0], [5.5, 6.5]]])
    target, w = enc.encode(kpts, torch.ones(1, 2))
    g = torch.Generator().manual_seed(0)
    output = (
        torch.rand(1, 2, 8, 8, generator=g),
        (torch.randn(1, 2, 64, generator=g), torch.randn(1, 2, 64, generator=g)),
    )
    mse, kl = KeypointMSELoss(), KLDiscreteLoss()
    loss = HybridLoss(mse, kl, heatmap_weight=3.0, simcc_weight=0.5)(output, target, w, keypoints=kpts, encoding=enc)
    ref = 3.0 * mse(output[0], target[0], w) + 0.5 * kl(output[1], target[1], w)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)


def test_wrong_loss_names_both_classes() -> None:
    hybrid = Hybrid(Heatmap2D((32, 32)), SimCC((32, 32)))
    with pytest.raises(ValueError, match="KLDiscreteLoss cannot train a Heatmap2D"):
        check_compatible(Heatmap2D((32, 32)), loss=KLDiscreteLoss())
    with pytest.raises(ValueError, match="KeypointMSELoss cannot train a SimCC"):
        check_compatible(SimCC((32, 32)), loss=KeypointMSELoss())
    with pytest.raises(ValueError, match="KeypointMSELoss cannot train a Hybrid"):
        check_compatible(hybrid, loss=KeypointMSELoss())
    with pytest.raises(ValueError, match="HybridLoss cannot train a SimCC"):
        check_compatible(SimCC((32, 32)), loss=HybridLoss)  # a class is checked like an instance
    assert check_compatible(SimCC((32, 32)), loss=SoftArgmaxLoss()) == "simcc"  # coordinate loss reads both kinds
    assert check_compatible(Heatmap2D((32, 32)), loss=SoftArgmaxLoss()) == "heatmap"


def test_hybrid_loss_branches_are_checked_against_the_branch_encodings() -> None:
    hybrid = Hybrid(Heatmap2D((32, 32)), SimCC((32, 32)))
    assert check_compatible(hybrid, loss=HybridLoss(SoftArgmaxLoss(), SoftArgmaxLoss())) == "hybrid"
    swapped = HybridLoss(heatmap=KLDiscreteLoss(), simcc=KeypointMSELoss())
    with pytest.raises(ValueError, match=r"KLDiscreteLoss cannot train a Heatmap2D.*\(in HybridLoss\.heatmap\)") as err:
        check_compatible(hybrid, loss=swapped)
    assert "KeypointMSELoss cannot train a SimCC" in str(err.value)  # both branches reported
