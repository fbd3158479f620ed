"""Metrics refuse broken ground truth and impossible arguments (ValueError), one check shared by all."""

from __future__ import annotations

import pytest
import torch

from lit_heatmap.metrics import EPE, NME, PCK, PCKAUC, KeypointAP, MeanOKS
from lit_heatmap.metrics.functional import epe, nme, pck


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    target = torch.tensor([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]]]).repeat(2, 1, 1)
    preds = target.clone()
    vis = torch.ones(2, 3)
    bbox = torch.tensor([[0.0, 0, 100, 100]] * 2)
    return preds, target, vis, bbox


METRICS = [PCK(), PCKAUC(), EPE(), NME(normalize="bbox"), MeanOKS(sigmas=[0.05] * 3)]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: type(m).__name__)
def test_nan_ground_truth_on_a_labelled_keypoint_raises(metric) -> None:
    preds, target, vis, bbox = _batch()
    target[0, 1, 0] = float("nan")  # before: PCK 0.833, EPE 0.0, MeanOKS 0.833
    with pytest.raises(ValueError, match=r"NaN/inf ground truth .*\(0, 1\)"):
        metric.update(preds, target, vis, bbox=bbox)
    # the same NaN on an unlabelled keypoint is ignored: every labelled keypoint is exact
    vis[0, 1] = 0
    metric.update(preds, target, vis, bbox=bbox)
    value = metric.compute()
    value = value["NME"] if isinstance(value, dict) else value
    # exact predictions: EPE/NME 0; PCK, MeanOKS 1; PCKAUC 19/20 (its first threshold is 0, and d < 0 never holds)
    expected = {"EPE": 0.0, "NME": 0.0, "PCKAUC": 0.95}.get(type(metric).__name__, 1.0)
    assert float(value) == pytest.approx(expected, abs=1e-12)


def test_functional_and_keypoint_ap_share_the_check() -> None:
    preds, target, vis, bbox = _batch()
    target[1, 2, 1] = float("inf")
    for fn in (lambda: pck(preds, target, vis, bbox=bbox), lambda: epe(preds, target, vis)):
        with pytest.raises(ValueError, match=r"ground truth .*\(1, 2\)"):
            fn()
    with pytest.raises(ValueError, match="ground truth"):
        nme(preds, target, vis, normalize="bbox", bbox=bbox)
    kp = torch.cat([target[1], torch.full((3, 1), 2.0)], -1)[None]
    with pytest.raises(ValueError, match=r"targets\[0\].*NaN/inf ground truth"):
        KeypointAP(sigmas=[0.05] * 3).update(
            [], [{"image_id": 1, "keypoints": kp, "area": torch.tensor([100.0]), "bbox": bbox[:1]}]
        )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: PCK(threshold=-1), "threshold"),
        (lambda: PCK(threshold=float("nan")), "threshold"),
        (lambda: PCK(normalize="foo"), "normalize"),
        (lambda: PCK(normalize=(1, 2, 3)), "normalize"),
        (lambda: PCKAUC(max_threshold=0), "threshold"),
        (lambda: NME(normalize="foo"), "normalize"),
        (lambda: NME(failure_threshold=0), "failure_threshold"),
        (lambda: MeanOKS(sigmas=[0.1, -1.0]), "sigmas"),
    ],
)
def test_impossible_arguments_raise_in_init(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
@pytest.mark.parametrize("make", [PCK, PCKAUC, EPE, lambda: NME(normalize="bbox"), lambda: MeanOKS(sigmas=[0.05] * 3)])
def test_nothing_to_score_is_one_rule_naming_the_cause(make) -> None:
    """Before: an empty update said "compute() called before update()"; an all-invisible batch gave NaN
    (EPE, PCK), raised (MeanOKS) or scored 0 failures (NME), each metric its own way."""
    preds, target, vis, bbox = _batch()
    metric = make()
    with pytest.raises(RuntimeError, match=r"compute\(\) called before update\(\)"):
        metric.compute()
    metric.update(preds[:0], target[:0], vis[:0], bbox=bbox[:0])
    metric.update(preds[:0], target[:0], vis[:0], bbox=bbox[:0])
    with pytest.raises(RuntimeError, match=r"nothing to score: the 2 update\(s\) held empty batches"):
        metric.compute()
    metric.update(preds, target, torch.zeros_like(vis), bbox=bbox)
    with pytest.raises(RuntimeError, match=r"none of the 2 sample\(s\) has a labelled keypoint"):
        metric.compute()
    metric.update(preds, target, vis, bbox=bbox)  # one labelled batch: scored as usual
    value = metric.compute()
    value = value["NME"] if isinstance(value, dict) else value
    assert torch.isfinite(torch.as_tensor(value))


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_keypoint_ap_nothing_to_score_names_the_cause() -> None:
    ap = KeypointAP(sigmas=[0.05] * 3)
    with pytest.raises(RuntimeError, match=r"compute\(\) called before update\(\)"):
        ap.compute()
    ap.update([], [])
    with pytest.raises(RuntimeError, match=r"nothing to score: the 1 update\(s\) held no predictions"):
        ap.compute()


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: type(m).__name__)
def test_tensor_metrics_meet_the_update_protocol(metric) -> None:
    from lit_heatmap.metrics import KeypointMetric, TensorMetric

    assert isinstance(metric, TensorMetric) and isinstance(metric, KeypointMetric)
    assert not getattr(metric, "scores_images", False) and KeypointAP.scores_images
