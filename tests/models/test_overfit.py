"""Acceptance: every head + encoding pair overfits 8 fixed images to PCK@0.05 = 1.0 on CPU.

The images (64 x 64, 4 coloured discs at known sub-pixel centres) are generated in the test; the
backbone is timm's ``test_resnet`` (0.37 M parameters). PCK@0.05 is normalised by the 64 px box
(threshold 3.2 px) and computed by ``lit_heatmap.metrics.PCK`` through the module's validation path.
"""

from __future__ import annotations

import functools

import pytest
import torch

from model_helpers import disc_images, make_batch

from lit_heatmap.codecs import DarkDecoder, Heatmap2D, Hybrid, HybridDecoder, MarginalDecoder, SimCC, SoftArgmaxDecoder
from lit_heatmap.metrics import PCK
from lit_heatmap.models import (
    AdaptiveWingLoss,
    Backbone,
    DeconvHeatmapHead,
    HybridHead,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    MultiScaleHeatmapHead,
    SimCCHead,
)
from lit_heatmap.module import HeatmapModule

S, K, MAX_STEPS = 64, 4, 300
HM = Heatmap2D((S, S), sigma=2.0, mode="unbiased")
UDP = Heatmap2D((S, S), sigma=2.0, mode="udp")
SC = SimCC((S, S), split_ratio=2.0, sigma=2.0)
P = functools.partial

CASES = {
    "deconv-unbiased-dark": (P(DeconvHeatmapHead, deconv_channels=64), HM, DarkDecoder(), KeypointMSELoss()),
    "deconv-udp-dark": (P(DeconvHeatmapHead, deconv_channels=64), UDP, DarkDecoder(), KeypointMSELoss()),
    "deconv-unbiased-awing": (P(DeconvHeatmapHead, deconv_channels=64), HM, DarkDecoder(), AdaptiveWingLoss()),
    "multiscale-unbiased-marginal": (P(MultiScaleHeatmapHead, fuse="sum", channels=64), HM, MarginalDecoder(), KeypointMSELoss()),
    "simcc-simcc-softargmax": (P(SimCCHead, in_index=-2), SC, SoftArgmaxDecoder(beta=10.0, window=6), KLDiscreteLoss()),
    "hybrid-hybrid-product": (
        P(HybridHead, heatmap={"deconv_channels": 64}, simcc={"in_index": -2}),
        Hybrid(HM, SC), HybridDecoder(), HybridLoss(heatmap_weight=100.0),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_overfits_eight_images(case: str) -> None:
    torch.manual_seed(0)
    head, encoding, decoder, loss = CASES[case]
    model = HeatmapModule(
        P(Backbone, name="test_resnet"), head, encoding, decoder, loss, K, P(torch.optim.Adam, lr=1e-3),
        metrics={"PCK@0.05": PCK(0.05, normalize="bbox")},
    )  # fmt: skip
    images, keypoints = disc_images(8, S, K)
    batch = make_batch(images, keypoints)
    opt = model.configure_optimizers()
    pck = torch.tensor(0.0)
    for step in range(1, MAX_STEPS + 1):
        model.train()
        loss_value = model.training_step(batch, 0)
        opt.zero_grad()
        loss_value.backward()
        opt.step()
        if step % 25 == 0:
            model.eval()
            metric = model.val_metrics[model._metric_keys["PCK@0.05"]]
            with torch.no_grad():
                model._eval_step(batch, "val", model.val_metrics)
            pck = metric.compute()
            metric.reset()
            if pck == 1.0:
                break
    assert float(pck) == 1.0, f"{case}: PCK@0.05 {float(pck):.3f} after {MAX_STEPS} steps"
    assert torch.isfinite(loss_value)
