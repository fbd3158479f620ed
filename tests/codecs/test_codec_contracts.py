"""The contracts of lit_heatmap.codecs.base: the built-in parts fit them, other objects do not, and the
flip test (next to the flip code) averages a head output with the mirrored pass."""

from __future__ import annotations

import pytest
import torch

from lit_heatmap.codecs import (
    ArgmaxDecoder,
    DarkDecoder,
    Encoding,
    FlipsItself,
    Head,
    Heatmap2D,
    HeatmapEncoding,
    Hybrid,
    HybridDecoder,
    HybridEncoding,
    KeypointDecoder,
    Loss,
    SimCC,
    VectorEncoding,
    flip_output,
    flip_test_average,
)
from lit_heatmap.models import DeconvHeatmapHead, HybridHead, HybridLoss, KeypointMSELoss, KLDiscreteLoss, SimCCHead

HM = Heatmap2D((32, 32), sigma=2.0)
SC = SimCC((32, 32), split_ratio=2.0, sigma=3.0)
HY = Hybrid(HM, SC)


def _leaves(output) -> list[torch.Tensor]:
    return [output] if isinstance(output, torch.Tensor) else [t for o in output for t in _leaves(o)]


def _zeros(output):
    return torch.zeros_like(output) if isinstance(output, torch.Tensor) else type(output)(_zeros(o) for o in output)


def test_the_encodings_fit_their_protocols() -> None:
    assert all(isinstance(e, Encoding) for e in (HM, SC, HY))
    assert isinstance(HM, HeatmapEncoding) and not isinstance(HM, VectorEncoding)
    assert isinstance(SC, VectorEncoding) and not isinstance(SC, HeatmapEncoding)
    assert isinstance(HY, HybridEncoding) and isinstance(HY, FlipsItself)
    assert not isinstance(HM, FlipsItself) and not isinstance(object(), Encoding)
    assert (HM.kind, SC.kind, HY.kind) == ("heatmap", "simcc", "hybrid")


def test_decoders_heads_and_losses_fit_theirs() -> None:
    assert all(isinstance(d, KeypointDecoder) for d in (ArgmaxDecoder(), DarkDecoder(), HybridDecoder()))
    heads = [DeconvHeatmapHead([8], [8], 2, HM), SimCCHead([8], [8], 2, SC), HybridHead([8], [8], 2, HY)]
    assert all(isinstance(h, Head) for h in heads)
    assert all(isinstance(loss, Loss) for loss in (KeypointMSELoss(), KLDiscreteLoss(), HybridLoss()))
    assert not isinstance(HM, KeypointDecoder) and not isinstance(torch.nn.Linear(2, 2), Head)


@pytest.mark.parametrize("encoding", [HM, SC, HY], ids=["heatmap", "simcc", "hybrid"])
def test_flip_test_average_is_the_mean_with_the_mirrored_pass(encoding) -> None:
    flip = [1, 0, 2]
    kpts = torch.tensor([[[5.0, 7.0], [20.0, 9.5], [16.0, 30.0]]])
    vis = torch.ones(1, 3)
    target, _ = encoding.encode(kpts, vis)
    mirrored = torch.stack([31 - kpts[..., 0], kpts[..., 1]], -1)[:, flip]
    flipped_target, _ = encoding.encode(mirrored, vis)
    # a perfect network: the mirrored pass mirrored back equals the direct one, so the average is it
    avg = flip_test_average(target, flipped_target, encoding, flip)
    for a, b in zip(_leaves(avg), _leaves(target)):
        assert torch.allclose(a, b, atol=1e-5)
    # and with a zero direct pass it is half the mirrored-back output
    zeros = _zeros(target)
    half = flip_test_average(zeros, flipped_target, encoding, flip)
    back = flip_output(flipped_target, encoding, flip)
    for a, b in zip(_leaves(half), _leaves(back)):
        assert torch.allclose(a, 0.5 * b)
    assert type(avg) is type(target)
