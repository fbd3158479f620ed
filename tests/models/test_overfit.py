"""Acceptance: every head + encoding pair overfits 8 fixed images to PCK@0.05 = 1.0 on CPU.

The images (64 x 64, 4 coloured discs at known sub-pixel centres) are generated in the test; the
backbone is timm's ``test_resnet`` (0.37 M parameters). PCK@0.05 is normalised by the 64 px box
(threshold 3.2 px) and computed by ``lit_heatmap.metrics.PCK`` through the module's validation path.
"""

from __future__ import annotations

import pytest
import torch

from lit_heatmap.codecs import (
    DarkDecoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    MarginalDecoder,
    SimCC,
    SoftArgmaxDecoder,
)
from lit_heatmap.data import DatasetMeta
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
from lit_heatmap.nodes import node
from tests.models.model_helpers import disc_images, make_batch

S, K, MAX_STEPS = 64, 4, 300
META = DatasetMeta("discs", K, [f"disc{i}" for i in range(K)], [], list(range(K)), [0.05] * K, (S, S))
HM = node(Heatmap2D, input_size=(S, S), sigma=2.0, mode="unbiased")
UDP = node(Heatmap2D, input_size=(S, S), sigma=2.0, mode="udp")
SC = node(SimCC, input_size=(S, S), split_ratio=2.0, sigma=2.0)
DECONV = node(DeconvHeatmapHead, deconv_channels=64)

CASES = {
    "deconv-unbiased-dark": (DECONV, HM, node(DarkDecoder), node(KeypointMSELoss)),
    "deconv-udp-dark": (DECONV, UDP, node(DarkDecoder), node(KeypointMSELoss)),
    "deconv-unbiased-awing": (DECONV, HM, node(DarkDecoder), node(AdaptiveWingLoss)),
    "multiscale-unbiased-marginal": (
        node(MultiScaleHeatmapHead, fuse="sum", channels=64),
        HM,
        node(MarginalDecoder),
        node(KeypointMSELoss),
    ),
    "simcc-simcc-softargmax": (
        node(SimCCHead, in_index=-2),
        SC,
        node(SoftArgmaxDecoder, beta=10.0, window=6),
        node(KLDiscreteLoss),
    ),
    "hybrid-hybrid-product": (
        node(
            HybridHead,
            heatmap=node(DeconvHeatmapHead, _partial_=True, deconv_channels=64),
            simcc=node(SimCCHead, _partial_=True, in_index=-2),
        ),
        node(Hybrid, heatmap=HM, simcc=SC),
        node(HybridDecoder),
        node(HybridLoss, heatmap_weight=100.0),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_overfits_eight_images(case: str) -> None:
    torch.manual_seed(0)
    head, encoding, decoder, loss = CASES[case]
    model = HeatmapModule(
        node(Backbone, name="test_resnet"),
        head,
        encoding,
        decoder,
        loss,
        META,
        optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
        metrics={"PCK@0.05": node(PCK, threshold=0.05, normalize="bbox")},
    )
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
            with torch.no_grad():
                model._eval_step(batch, "val")
            pck = model.evaluators["val"].compute()["PCK@0.05"]
            model.evaluators["val"].reset()
            if pck == 1.0:
                break
    assert float(pck) == 1.0, f"{case}: PCK@0.05 {float(pck):.3f} after {MAX_STEPS} steps"
    assert torch.isfinite(loss_value)
