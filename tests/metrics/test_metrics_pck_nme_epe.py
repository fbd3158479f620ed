"""Hand-computed golden values for PCK (every normaliser), PCKAUC, NME/FR/AUC and EPE."""

from __future__ import annotations

import math

import pytest
import torch

from lit_heatmap.metrics import EPE, NME, PCK, PCKAUC
from lit_heatmap.metrics.functional import epe, nme, pck, pck_auc


def _pck_batch():
    """B=2, K=3. Offsets (pred - GT): s0: kp0 (3,4) d=5, kp1 (0,4.9), kp2 unlabelled (d=1000);
    s1: kp0 (0,3), kp1 (6,8) d=10, kp2 (1,1)."""
    target = torch.tensor([[[10.0, 10], [50, 20], [70, 30]], [[5.0, 5], [20, 40], [30, 60]]], dtype=torch.float64)
    offset = torch.tensor([[[3.0, 4], [0, 4.9], [1000, 0]], [[0.0, 3], [6, 8], [1, 1]]], dtype=torch.float64)
    vis = torch.tensor([[1.0, 1, 0], [1, 1, 1]])
    return target + offset, target, vis


def test_pck_bbox_strict_macro_micro() -> None:
    """bbox max(w,h): s0 100 -> 5 px, s1 80 -> 4 px. Correct: s0 kp1 (5/100 = 0.05 is not < 0.05);
    s1 kp0, kp2. Per keypoint 1/2, 1/2, 1/1 -> macro 2/3; micro 3/5."""
    preds, target, vis = _pck_batch()
    bbox = torch.tensor([[0.0, 0, 100, 50], [0, 0, 40, 80]])
    m = PCK(threshold=0.05, normalize="bbox")
    m.update(preds, target, vis, bbox=bbox, norm=None, area=None, subsets=None)
    assert float(m.compute()) == pytest.approx(2 / 3, abs=1e-12)
    torch.testing.assert_close(m.compute_per_keypoint(), torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64))
    m_micro = PCK(threshold=0.05, normalize="bbox", average="micro")
    m_micro.update(preds, target, vis, bbox=bbox)
    assert float(m_micro.compute()) == pytest.approx(0.6, abs=1e-12)
    assert float(pck(preds, target, vis, 0.05, "bbox", bbox=bbox)) == pytest.approx(2 / 3, abs=1e-12)
    # the same data in two updates gives the same result
    m2 = PCK(threshold=0.05, normalize="bbox")
    m2.update(preds[:1], target[:1], vis[:1], bbox=bbox[:1])
    m2.update(preds[1:], target[1:], vis[1:], bbox=bbox[1:])
    assert float(m2.compute()) == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize("normalize", ["head", "norm"])
def test_pck_head_and_norm(normalize: str) -> None:
    """Per-sample size 10 and 20, threshold 0.5 -> 5 px and 10 px: s0 kp1 correct (kp0: 5/10 = 0.5 not <),
    s1 kp0, kp2 correct (kp1: 10/20 not <) -> macro 2/3, micro 3/5."""
    preds, target, vis = _pck_batch()
    norm = torch.tensor([10.0, 20.0])
    m = PCK(threshold=0.5, normalize=normalize)
    m.update(preds, target, vis, norm=norm)
    assert float(m.compute()) == pytest.approx(2 / 3, abs=1e-12)
    m = PCK(threshold=0.5, normalize=normalize, average="micro")
    m.update(preds, target, vis, norm=norm)
    assert float(m.compute()) == pytest.approx(0.6, abs=1e-12)
    with pytest.raises(ValueError, match="norm"):
        PCK(normalize=normalize).update(preds, target, vis)


def test_pck_torso_default_indices_and_pair() -> None:
    """K=17; torso = |GT 5 - GT 12| (COCO left shoulder, right hip) = 100 in s0; threshold 0.2 -> 20 px.
    s0: kp0 off 19.9 (correct), kp1 off 20 (not), others exact. s1 has kp 12 unlabelled -> excluded
    (its large errors must not count). Macro over the 17 labelled keypoints of s0: 16/17."""
    target = torch.zeros(2, 17, 2, dtype=torch.float64)
    target[:, 12] = torch.tensor([0.0, 100.0])
    preds = target.clone()
    preds[0, 0, 0] += 19.9
    preds[0, 1, 1] += 20.0
    preds[1] += 500.0
    vis = torch.ones(2, 17)
    vis[1, 12] = 0
    m = PCK(threshold=0.2, normalize="torso")
    m.update(preds, target, vis)
    assert float(m.compute()) == pytest.approx(16 / 17, abs=1e-12)
    # explicit pair (5, 12) == torso; another pair: |GT 0 - GT 12| = 100 too
    for norm_pair in [(5, 12), (0, 12)]:
        m = PCK(threshold=0.2, normalize=norm_pair)
        m.update(preds, target, vis)
        assert float(m.compute()) == pytest.approx(16 / 17, abs=1e-12)
    # torso with custom indices (0, 1): |(0,0)-(0,0)| = 0 -> every sample invalid -> NaN
    m = PCK(threshold=0.2, normalize="torso", indices=(0, 1))
    m.update(preds, target, vis)
    assert math.isnan(float(m.compute()))
    with pytest.raises(ValueError, match="out of range"):
        PCK(normalize=(0, 40)).update(preds, target, vis)


def test_pck_nonfinite_is_a_visible_miss() -> None:
    preds, target, vis = _pck_batch()
    preds[1, 0, 0] = float("nan")  # was correct
    bbox = torch.tensor([[0.0, 0, 100, 50], [0, 0, 40, 80]])
    m = PCK(threshold=0.05, normalize="bbox", average="micro")
    m.update(preds, target, vis, bbox=bbox)
    with pytest.warns(RuntimeWarning, match="NaN/inf"):
        assert float(m.compute()) == pytest.approx(2 / 5, abs=1e-12)
    assert int(m.num_nonfinite) == 1


def test_pck_auc_golden() -> None:
    """One keypoint at normalised distance 0.11; thresholds 0.5*i/20 -> correct for i >= 5: AUC 15/20."""
    target = torch.zeros(1, 1, 2, dtype=torch.float64)
    preds = torch.tensor([[[11.0, 0.0]]], dtype=torch.float64)
    vis = torch.ones(1, 1)
    bbox = torch.tensor([[0.0, 0, 100, 100]])
    m = PCKAUC(max_threshold=0.5, num_thresholds=20, normalize="bbox")
    m.update(preds, target, vis, bbox=bbox)
    assert float(m.compute()) == pytest.approx(0.75, abs=1e-12)
    assert float(m.compute_per_keypoint()[0]) == pytest.approx(0.75, abs=1e-12)
    assert float(pck_auc(preds, target, vis, 0.5, 20, "bbox", bbox=bbox)) == pytest.approx(0.75, abs=1e-12)


def _nme_batch():
    """K=4, inter-ocular pair (0, 1). Per-sample NME: 1.75/100, 2.5/50, 2/20 (= 0.1 exactly: not a
    failure), and a NaN prediction (a failure)."""
    target = torch.zeros(4, 4, 2, dtype=torch.float64)
    target[:, 1, 0] = torch.tensor([100.0, 50.0, 20.0, 10.0])
    target[:, 2] = torch.tensor([5.0, 5.0])
    target[:, 3] = torch.tensor([7.0, 1.0])
    preds = target.clone()
    preds[0, 2, 0] += 3
    preds[0, 3, 1] += 4
    preds[1, 2] += torch.tensor([6.0, 8.0])
    preds[2, 2, 0] += 4
    preds[2, 3, 1] -= 4
    preds[3, 0, 0] = float("nan")
    return preds, target, torch.ones(4, 4)


def test_nme_fr_auc_golden_with_subsets() -> None:
    preds, target, vis = _nme_batch()
    nmes = [0.0175, 0.05, 0.1]
    subsets = torch.tensor([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=torch.bool)
    m = NME(normalize="inter_ocular", indices=(0, 1), failure_threshold=0.10, subset_names=["a", "b"])
    m.update(preds[:2], target[:2], vis[:2], subsets=subsets[:2])
    m.update(preds[2:], target[2:], vis[2:], subsets=subsets[2:])
    with pytest.warns(RuntimeWarning, match="NaN/inf"):
        out = m.compute()
    expected = {
        "NME": 100 * sum(nmes) / 3,  # the NaN sample is left out of the mean
        "FR@0.1": 25.0,  # 1 failure (the NaN sample) out of 4
        "AUC@0.1": 100 * (0.825 + 0.5 + 0 + 0) / 4,
        "NME/a": 100 * (0.0175 + 0.1) / 2,
        "FR@0.1/a": 0.0,
        "AUC@0.1/a": 100 * 0.825 / 2,
        "NME/b": 5.0,
        "FR@0.1/b": 50.0,
        "AUC@0.1/b": 25.0,
    }
    assert set(out) == set(expected)
    for key, value in expected.items():
        assert float(out[key]) == pytest.approx(value, abs=1e-9), key
    assert int(m.num_nonfinite) == 1
    fn = nme(preds[:3], target[:3], vis[:3], (0, 1), failure_threshold=0.1)
    assert float(fn["NME"]) == pytest.approx(100 * sum(nmes) / 3, abs=1e-9)
    assert float(fn["AUC@0.1"]) == pytest.approx(100 * 1.325 / 3, abs=1e-9)


def test_nme_wflw_defaults_and_attribute_names() -> None:
    """K=98: inter-ocular uses GT 60, 72 (distance 80); inter-pupil GT 96, 97 (distance 40);
    one keypoint off by 9.8 px -> mean error 0.1 px."""
    target = torch.zeros(1, 98, 2, dtype=torch.float64)
    target[0, 72, 0] = 80.0
    target[0, 96, 0], target[0, 97, 0] = 20.0, 60.0
    preds = target.clone()
    preds[0, 5, 1] += 9.8
    vis = torch.ones(1, 98)
    m = NME()
    m.update(preds, target, vis, subsets=torch.zeros(1, 6, dtype=torch.bool))
    out = m.compute()
    assert float(out["NME"]) == pytest.approx(100 * 0.1 / 80, abs=1e-9)
    assert {"NME/pose", "NME/expression", "NME/illumination", "NME/makeup", "NME/occlusion", "NME/blur"} <= set(out)
    assert math.isnan(float(out["NME/blur"]))  # empty subset
    m = NME(normalize="inter_pupil")
    m.update(preds, target, vis)
    assert float(m.compute()["NME"]) == pytest.approx(100 * 0.1 / 40, abs=1e-9)


def test_nme_other_normalisers() -> None:
    """K=6. inter_pupil with centroids: eyes (0,1) -> (5,0), (2,3) -> (50,0): 45. bbox sqrt(25*100)=50;
    norm 30. One keypoint off by 9 -> mean error 1.5 px."""
    target = torch.zeros(1, 6, 2, dtype=torch.float64)
    target[0, 1, 0], target[0, 2, 0], target[0, 3, 0] = 10.0, 45.0, 55.0
    preds = target.clone()
    preds[0, 4, 0] += 9.0
    vis = torch.ones(1, 6)
    cases = [
        (dict(normalize="inter_pupil", indices=((0, 1), (2, 3))), {}, 1.5 / 45),
        (dict(normalize="bbox"), dict(bbox=torch.tensor([[0.0, 0, 25, 100]])), 1.5 / 50),
        (dict(normalize="norm"), dict(norm=torch.tensor([30.0])), 1.5 / 30),
        (dict(normalize=(1, 3)), {}, 1.5 / 45),
    ]
    for ctor, kw, value in cases:
        m = NME(**ctor)
        m.update(preds, target, vis, **kw)
        assert float(m.compute()["NME"]) == pytest.approx(100 * value, abs=1e-9), ctor
    with pytest.raises(ValueError, match="bbox"):
        NME(normalize="bbox").update(preds, target, vis)
    with pytest.raises(ValueError, match="normalize"):
        NME(normalize="eyes").update(preds, target, vis)


def test_epe_golden() -> None:
    """Labelled distances 5, 0 | 1, 2, 3 (one unlabelled, 1000 px off, excluded): (5+0+1+2+3)/5 = 2.2."""
    target = torch.zeros(2, 3, 2, dtype=torch.float64)
    preds = torch.tensor([[[3.0, 4], [0, 0], [1000, 0]], [[1.0, 0], [0, 2], [0, 3]]], dtype=torch.float64)
    vis = torch.tensor([[1.0, 1, 0], [1, 1, 1]])
    m = EPE()
    m.update(preds, target, vis)
    assert float(m.compute()) == pytest.approx(2.2, abs=1e-12)
    assert float(epe(preds, target, vis)) == pytest.approx(2.2, abs=1e-12)
    preds[1, 2, 0] = float("inf")
    m = EPE()
    m.update(preds, target, vis)
    with pytest.warns(RuntimeWarning):
        assert float(m.compute()) == pytest.approx(8 / 4, abs=1e-12)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
@pytest.mark.parametrize("metric", [PCK(), PCKAUC(), NME(indices=(0, 1)), EPE()])
def test_tensor_metrics_bad_inputs(metric) -> None:
    with pytest.raises(RuntimeError, match="before update"):
        metric.compute()
    with pytest.raises(ValueError, match="K mismatch"):
        metric.update(torch.zeros(2, 3, 2), torch.zeros(2, 4, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="visibility"):
        metric.update(torch.zeros(2, 3, 2), torch.zeros(2, 3, 2), torch.ones(2, 4))
    kw = dict(bbox=torch.tensor([[0.0, 0, 10, 10]] * 2))
    metric.update(torch.zeros(2, 3, 2), torch.ones(2, 3, 2), torch.ones(2, 3), **kw)
    with pytest.raises(ValueError, match="K=4"):
        metric.update(torch.zeros(2, 4, 2), torch.ones(2, 4, 2), torch.ones(2, 4), **kw)
    metric.reset()
    with pytest.raises(RuntimeError, match="before update"):
        metric.compute()
