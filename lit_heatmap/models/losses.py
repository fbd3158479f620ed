"""Losses for heatmap, SimCC and hybrid outputs.

Every loss has the same call signature (the :class:`~lit_heatmap.codecs.base.Loss` contract), so the
LightningModule calls them uniformly::

    loss(output, target, target_weight, *, keypoints=None, encoding=None) -> scalar Tensor

- ``output``: the head's raw output (``(B,K,h,w)`` tensor, ``(x, y)`` tuple, or ``(heatmaps, (x, y))``);
- ``target, target_weight``: what ``encoding.encode(keypoints, visibility)`` returned
  (``target_weight`` is ``(B, K)``);
- ``keypoints``: ``(B, K, 2)`` ground truth in input px (needed by coordinate losses only);
- ``encoding``: the encoding object (needed by coordinate losses only).

Reduction: every loss is a mean over the ``B*K`` keypoints (weight-0 keypoints contribute 0 but are
counted, as in MMPose), so its scale does not depend on the batch size.  ``loss_weight`` scales the
result.  ``accepts`` lists the encoding kinds whose outputs a loss reads (the codecs' vocabulary, checked
by :func:`lit_heatmap.codecs.check_compatible` before anything is built).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_heatmap.codecs import (
    Encoding,
    HeadOutput,
    HeatmapEncoding,
    HybridEncoding,
    Loss,
    SoftArgmaxDecoder,
    VectorEncoding,
    encoding_kind,
)

__all__ = [
    "KeypointMSELoss",
    "KLDiscreteLoss",
    "AdaptiveWingLoss",
    "SoftArgmaxLoss",
    "HybridLoss",
]


def _weight(target_weight: Tensor, use: bool, like: Tensor) -> Tensor:
    """(B, K) weights in ``like``'s dtype (ones when ``use`` is False)."""
    w = target_weight.to(like.dtype) if use else torch.ones_like(target_weight, dtype=like.dtype)
    return w


def _reduce_per_keypoint(per_kpt: Tensor, ohkm_topk: int | None) -> Tensor:
    """(B, K) per-keypoint losses -> scalar: mean, or mean of the top-k hardest per sample (OHKM)."""
    if ohkm_topk is None:
        return per_kpt.mean()
    k = min(int(ohkm_topk), per_kpt.shape[1])
    return per_kpt.topk(k, dim=1).values.mean()


class KeypointMSELoss(nn.Module):
    """MSE between heatmaps, as SimpleBaseline/HRNet/MMPose (``mean((w*(out - tgt))^2)``).

    Args:
        use_target_weight: weight each keypoint's map by ``target_weight`` (0 drops it).
        ohkm_topk: online hard keypoint mining: average only the top-k keypoint losses per sample.
        loss_weight: scales the loss.

    Shapes: output, target ``(B, K, h, w)``; target_weight ``(B, K)``.
    """

    accepts = ("heatmap",)

    def __init__(self, use_target_weight: bool = True, ohkm_topk: int | None = None, loss_weight: float = 1.0) -> None:
        super().__init__()
        if ohkm_topk is not None and int(ohkm_topk) < 1:
            raise ValueError(f"KeypointMSELoss: ohkm_topk must be >= 1 or None, got {ohkm_topk}")
        self.use_target_weight = use_target_weight
        self.ohkm_topk = ohkm_topk
        self.loss_weight = float(loss_weight)

    def forward(
        self,
        output: Tensor,
        target: Tensor,
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: Encoding | None = None,
    ) -> Tensor:
        w = _weight(target_weight, self.use_target_weight, output)
        per_kpt = ((output - target.to(output.dtype)) ** 2).flatten(2).mean(-1) * w * w  # (B, K)
        return _reduce_per_keypoint(per_kpt, self.ohkm_topk) * self.loss_weight


class KLDiscreteLoss(nn.Module):
    """KL divergence between SimCC label and predicted distributions (SimCC / RTMPose).

    ``p = softmax(beta * logits)``; the label is ``softmax(beta * target)`` when ``label_softmax`` else
    ``target / sum(target)``.  Per keypoint the two axes' KL (summed over bins) are added; the result
    is averaged over ``B*K`` (MMPose averages over bins and sums over the batch instead, so its scale
    differs by the bin count and batch size).

    Args:
        beta: temperature of the softmaxes (MMPose: 10).
        label_softmax: soften the Gaussian labels with a softmax (MMPose: True).
        use_target_weight: drop weight-0 keypoints.
        loss_weight: scales the loss.

    Shapes: output, target ``(x (B, K, Wx), y (B, K, Wy))``; target_weight ``(B, K)``.
    """

    accepts = ("simcc",)

    def __init__(
        self, beta: float = 10.0, label_softmax: bool = True, use_target_weight: bool = True, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        self.beta = float(beta)
        self.label_softmax = label_softmax
        self.use_target_weight = use_target_weight
        self.loss_weight = float(loss_weight)

    def _kl(self, logits: Tensor, label: Tensor) -> Tensor:
        log_p = F.log_softmax(logits.float() * self.beta, dim=-1)
        label = label.float()
        if self.label_softmax:
            q = F.softmax(label * self.beta, dim=-1)
        else:
            q = label / label.sum(-1, keepdim=True).clamp_min(1e-12)
        return (torch.xlogy(q, q) - q * log_p).sum(-1)  # (B, K)

    def forward(
        self,
        output: tuple[Tensor, Tensor],
        target: tuple[Tensor, Tensor],
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: Encoding | None = None,
    ) -> Tensor:
        per_kpt = self._kl(output[0], target[0]) + self._kl(output[1], target[1])
        w = _weight(target_weight, self.use_target_weight, per_kpt)
        return (per_kpt * w).mean() * self.loss_weight


class AdaptiveWingLoss(nn.Module):
    """Adaptive Wing loss for heatmap regression (Wang et al., ICCV 2019), used for faces.

    Per pixel, with ``d = |out - tgt|`` and exponent ``a = alpha - tgt``::

        d <  theta: omega * log(1 + (d / epsilon)^a)
        d >= theta: A * d - C   (A, C make it continuous and smooth at theta)

    Averaged over pixels, then over ``B*K`` keypoints (weighted).
    Shapes: output, target ``(B, K, h, w)``; target_weight ``(B, K)``.
    """

    accepts = ("heatmap",)

    def __init__(
        self,
        alpha: float = 2.1,
        omega: float = 14.0,
        epsilon: float = 1.0,
        theta: float = 0.5,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.alpha, self.omega, self.epsilon, self.theta = float(alpha), float(omega), float(epsilon), float(theta)
        self.use_target_weight = use_target_weight
        self.loss_weight = float(loss_weight)

    def forward(
        self,
        output: Tensor,
        target: Tensor,
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: Encoding | None = None,
    ) -> Tensor:
        out, tgt = output.float(), target.float()
        delta = (tgt - out).abs()
        a = self.alpha - tgt
        r = self.theta / self.epsilon
        big_a = self.omega / (1 + r**a) * a * r ** (a - 1) / self.epsilon
        c = self.theta * big_a - self.omega * torch.log1p(r**a)
        losses = torch.where(
            delta < self.theta, self.omega * torch.log1p((delta / self.epsilon) ** a), big_a * delta - c
        )
        per_kpt = losses.flatten(2).mean(-1)
        w = _weight(target_weight, self.use_target_weight, per_kpt)
        return (per_kpt * w).mean() * self.loss_weight


class SoftArgmaxLoss(nn.Module):
    """Integral regression: L1 between soft-argmax-decoded coordinates and the ground truth.

    Decodes ``output`` with the codecs' differentiable ``SoftArgmaxDecoder(beta)`` (2D heatmaps or SimCC
    vectors), compares with ``keypoints`` in input px, and divides by the heatmap stride (2D) or
    ``1 / split_ratio`` (SimCC) so the loss is in output-grid units.  ``target`` is not read.

    Args:
        beta: soft-argmax temperature (the decoder's).
        use_target_weight: drop weight-0 keypoints.
        loss_weight: scales the loss.

    Needs ``keypoints=`` and ``encoding=``.
    """

    accepts = ("heatmap", "simcc")

    def __init__(self, beta: float = 1.0, use_target_weight: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.beta = float(beta)
        self.decoder = SoftArgmaxDecoder(beta=self.beta)
        self.use_target_weight = use_target_weight
        self.loss_weight = float(loss_weight)

    def forward(
        self,
        output: HeadOutput,
        target: HeadOutput,
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: HeatmapEncoding | VectorEncoding | None = None,
    ) -> Tensor:
        if keypoints is None or encoding is None:
            raise ValueError("SoftArgmaxLoss needs keypoints= (B, K, 2) input px and encoding= (the encoding object)")
        pred, _ = self.decoder.decode(output, encoding)
        if encoding_kind(encoding) == "simcc":
            unit = 1.0 / float(encoding.split_ratio)
        else:
            unit = float(encoding.input_size[0]) / float(encoding.heatmap_size[0])
        gt = keypoints.to(pred.dtype)
        gt = torch.where(torch.isfinite(gt), gt, pred.detach())
        per_kpt = (pred - gt).abs().sum(-1) / unit  # (B, K)
        w = _weight(target_weight, self.use_target_weight, per_kpt)
        return (per_kpt * w).mean() * self.loss_weight


class HybridLoss(nn.Module):
    """Weighted sum for the hybrid head: ``heatmap_weight * heatmap(...) + simcc_weight * simcc(...)``.

    Args:
        heatmap: a loss for the 2D branch (e.g. ``KeypointMSELoss``).
        simcc: a loss for the SimCC branch (e.g. ``KLDiscreteLoss``).
        heatmap_weight, simcc_weight: the weights. The default 100 : 1 balances MSE (a per-pixel mean,
            ~1e-3 once trained) against KL (summed over bins, ~0.1-1); it is what the overfit test and
            ``benchmarks/hybrid.py`` use.

    Shapes: output, target ``(heatmaps (B,K,h,w), (x, y))``; target_weight ``(B, K)``.
    Coordinate losses of the branches get the matching sub-encoding (``encoding.heatmap`` /
    ``encoding.simcc``).
    """

    accepts = ("hybrid",)

    def __init__(
        self,
        heatmap: Loss | None = None,
        simcc: Loss | None = None,
        heatmap_weight: float = 100.0,
        simcc_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.heatmap = heatmap if heatmap is not None else KeypointMSELoss()
        self.simcc = simcc if simcc is not None else KLDiscreteLoss()
        self.heatmap_weight = float(heatmap_weight)
        self.simcc_weight = float(simcc_weight)

    def forward(
        self,
        output: HeadOutput,
        target: HeadOutput,
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: HybridEncoding | None = None,
    ) -> Tensor:
        hm_enc = getattr(encoding, "heatmap", None)
        sc_enc = getattr(encoding, "simcc", None)
        l_hm = self.heatmap(output[0], target[0], target_weight, keypoints=keypoints, encoding=hm_enc)
        l_sc = self.simcc(output[1], target[1], target_weight, keypoints=keypoints, encoding=sc_enc)
        return self.heatmap_weight * l_hm + self.simcc_weight * l_sc
