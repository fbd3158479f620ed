"""HeatmapModule: the LightningModule that trains any timm backbone + head with any codec.

Batch keys follow ``CONTRACT.md``. Targets are encoded on the device inside the steps, so the data
pipeline never depends on the encoding. Validation/test/predict decode to input pixels, map to the
original image with ``batch["affine"]`` and update the metrics there.

Checkpoints: ``save_hyperparameters`` stores the constructor arguments (partials and small codec,
loss and metric objects, all picklable), so ``HeatmapModule.load_from_checkpoint(path)`` rebuilds the
model without the original config. The stored backbone partial has ``pretrained=False`` and no
``pretrained_path`` (the weights come from the checkpoint; nothing is downloaded). These are pickled
Python objects: load only checkpoints you trust (``load_from_checkpoint`` passes
``weights_only=False``; pass the same to ``Trainer.fit/validate/test(ckpt_path=..., weights_only=False)``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn
from torchmetrics import Metric

from lit_heatmap.codecs import flip_output
from lit_heatmap.models.heads.base import encoding_kind
from lit_heatmap.models.losses import check_loss

__all__ = ["HeatmapModule", "to_original", "instance_scores"]


def to_original(keypoints: Tensor, affine: Tensor) -> Tensor:
    """Map keypoints ``(B, K, 2)`` from input px to original px with ``affine (B, 2, 3)``."""
    a = affine.to(keypoints.dtype)
    return torch.einsum("bij,bkj->bki", a[:, :, :2], keypoints) + a[:, None, :, 2]


def instance_scores(scores: Tensor, box_score: Tensor, threshold: float) -> Tensor:
    """MMPose's top-down rescoring: box score x mean of the keypoint scores above ``threshold``.

    scores ``(B, K)``, box_score ``(B,)`` -> ``(B,)``; 0 when no keypoint passes the threshold.
    """
    valid = (scores > threshold).to(scores.dtype)
    mean = (scores * valid).sum(1) / valid.sum(1).clamp_min(1)
    return mean * box_score.to(scores.dtype)


def _average(a: Any, b: Any) -> Any:
    """Elementwise mean of two outputs with the same (nested tuple) structure."""
    if isinstance(a, Tensor):
        return (a + b) * 0.5
    return type(a)(_average(x, y) for x, y in zip(a, b))


def _without_pretrained(backbone: Any) -> Any:
    """The backbone partial with ``pretrained=False`` and no ``pretrained_path`` (for reloading)."""
    if isinstance(backbone, functools.partial):
        kw = dict(backbone.keywords)
        kw["pretrained"] = False
        kw.pop("pretrained_path", None)
        return functools.partial(backbone.func, *backbone.args, **kw)
    return backbone


class HeatmapModule(L.LightningModule):
    """Keypoint detection with a backbone, a head, an encoding, a decoder and a loss.

    Args:
        backbone: a partial (Hydra ``_partial_: true``) of ``lit_heatmap.models.Backbone`` (or any callable
            returning a module with ``channels``, ``strides`` and ``forward(x) -> list[Tensor]``).
        head: a partial of a head class; completed with ``in_channels``, ``in_strides``,
            ``num_keypoints`` and ``encoding``.
        encoding: ``Heatmap2D`` / ``SimCC`` / ``Hybrid`` (from ``lit_heatmap.codecs``).
        decoder: a decoder of that encoding (``decoder.check(encoding)`` must pass).
        loss: a loss module with the call signature of ``lit_heatmap.models.losses``.
        num_keypoints: K.
        optimizer: a partial of a ``torch.optim`` optimizer, called with the trainable parameters.
        scheduler: optional partial of a ``torch.optim.lr_scheduler`` class, called with the optimizer.
        scheduler_config: Lightning's lr-scheduler config keys (``interval`` "epoch"|"step",
            ``frequency``, ``monitor``, ...); default ``{"interval": "epoch"}``.
        metrics: name -> torchmetrics ``Metric`` (e.g. ``{"PCK@0.05": PCK(0.05), "AP": KeypointAP()}``);
            separate copies are used for validation and test. Tensor metrics get
            ``update(preds, target, visibility, bbox=, norm=, area=, subsets=)`` in original px;
            metrics whose ``update`` takes ``(preds, targets)`` lists (``KeypointAP``) get per-image dicts.
        flip_test: average with the horizontally flipped pass at val/test/predict time.
        flip_index: left/right swap (K ints); required by ``flip_test``.
        sigmas: per-keypoint OKS sigmas of the dataset; given to metrics with a ``sigmas`` buffer whose
            length is not K (e.g. ``KeypointAP()`` defaults to COCO's 17).
        keypoint_score_threshold: keypoint scores above it enter the instance score (MMPose: 0.2).

    Raises:
        ValueError: at construction, for a head / encoding / decoder / loss combination that cannot work
            (naming the classes), or for ``flip_test`` without a valid ``flip_index``.
    """

    def __init__(
        self,
        backbone: Callable[..., nn.Module],
        head: Callable[..., nn.Module],
        encoding: Any,
        decoder: Any,
        loss: nn.Module,
        num_keypoints: int,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Metric] | None = None,
        flip_test: bool = False,
        flip_index: Sequence[int] | None = None,
        sigmas: Sequence[float] | None = None,
        keypoint_score_threshold: float = 0.2,
    ) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
            self.save_hyperparameters(logger=False)
        self._check_parts(backbone, head, encoding, decoder, loss, num_keypoints)
        self.num_keypoints = int(num_keypoints)
        self.encoding = encoding
        self.decoder = decoder
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_config = dict(scheduler_config or {"interval": "epoch"})
        self.flip_test = bool(flip_test)
        self.flip_index = None if flip_index is None else [int(i) for i in flip_index]
        if self.flip_index is not None and sorted(self.flip_index) != list(range(self.num_keypoints)):
            raise ValueError(f"HeatmapModule: flip_index must be a permutation of 0..{self.num_keypoints - 1}, got {self.flip_index}")
        if self.flip_test and self.flip_index is None:
            raise ValueError("HeatmapModule: flip_test=True needs flip_index (the dataset's left/right swap)")
        self.keypoint_score_threshold = float(keypoint_score_threshold)

        self.backbone = backbone()
        self.head = head(
            in_channels=list(self.backbone.channels),
            in_strides=list(self.backbone.strides),
            num_keypoints=self.num_keypoints,
            encoding=encoding,
        )
        self.metric_names = list((metrics or {}).keys())
        self._metric_keys = {name: f"m{i}_" + "".join(c if c.isalnum() else "_" for c in name) for i, name in enumerate(self.metric_names)}
        self.val_metrics = nn.ModuleDict({self._metric_keys[n]: self._prepare_metric(n, m, sigmas) for n, m in (metrics or {}).items()})
        self.test_metrics = nn.ModuleDict({self._metric_keys[n]: self._prepare_metric(n, m, sigmas) for n, m in (metrics or {}).items()})
        self._gt_from_datamodule: dict[str, bool] = {}  # stage -> KeypointAP's targets came from the datamodule

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _check_parts(backbone: Any, head: Any, encoding: Any, decoder: Any, loss: Any, num_keypoints: int) -> None:
        """Fail before building anything when the parts cannot work together."""
        if isinstance(backbone, nn.Module) or isinstance(head, nn.Module):
            raise TypeError("HeatmapModule: pass backbone and head as partials (Hydra `_partial_: true`), not built modules")
        if int(num_keypoints) < 1:
            raise ValueError(f"HeatmapModule: num_keypoints must be >= 1, got {num_keypoints}")
        encoding_kind(encoding)  # raises for a non-encoding
        head_cls = head.func if isinstance(head, functools.partial) else head
        if hasattr(head_cls, "check"):
            head_cls.check(encoding)
        if not hasattr(decoder, "decode"):
            raise ValueError(f"HeatmapModule: decoder {type(decoder).__name__} has no decode(output, encoding)")
        if hasattr(decoder, "check"):
            try:
                decoder.check(encoding)
            except ValueError as err:
                hint = " (with a Hybrid encoding use decoder=hybrid, i.e. HybridDecoder)" if encoding_kind(encoding) == "hybrid" else ""
                raise ValueError(f"{err}{hint}") from err
        check_loss(loss, encoding)

    def _prepare_metric(self, name: str, metric: Metric, sigmas: Sequence[float] | None) -> Metric:
        m = metric.clone()
        own = getattr(m, "sigmas", None)
        if isinstance(own, Tensor) and own.numel() != self.num_keypoints:
            if sigmas is None:
                raise ValueError(
                    f"HeatmapModule: metric {name!r} ({type(m).__name__}) has {own.numel()} OKS sigmas but the dataset has "
                    f"{self.num_keypoints} keypoints; pass sigmas= (the dataset's) or build the metric with them"
                )
            if len(sigmas) != self.num_keypoints:
                raise ValueError(f"HeatmapModule: sigmas has {len(sigmas)} values for {self.num_keypoints} keypoints")
            m.sigmas = torch.as_tensor([float(s) for s in sigmas], dtype=own.dtype)
            if hasattr(m, "num_keypoints"):
                m.num_keypoints = self.num_keypoints
        return m

    # ------------------------------------------------------------------ forward / decode
    def forward(self, images: Tensor) -> Any:
        """Images ``(B, 3, H, W)`` -> the head's raw output (see the encoding)."""
        return self.head(self.backbone(images))

    def decode(self, output: Any, affine: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Raw output -> keypoints ``(B, K, 2)`` (original px when ``affine (B, 2, 3)`` is given, else input px)
        and scores ``(B, K)``."""
        kpts, scores = self.decoder.decode(output, self.encoding)
        if affine is not None:
            kpts = to_original(kpts.float(), affine.float())
        return kpts, scores

    def predict_output(self, images: Tensor) -> Any:
        """Forward pass, averaged with the flipped pass when ``flip_test`` is on."""
        output = self(images)
        if self.flip_test:
            output = _average(output, flip_output(self(images.flip(-1)), self.encoding, self.flip_index))
        return output

    def _loss(self, output: Any, batch: Mapping[str, Any]) -> Tensor:
        with torch.no_grad():
            target, weight = self.encoding.encode(batch["keypoints"].float(), batch["visibility"].float())
        return self.loss(output, target, weight, keypoints=batch["keypoints"].float(), encoding=self.encoding)

    # ------------------------------------------------------------------ steps
    def _log(self, name: str, value: Tensor, **kw: Any) -> None:
        """``self.log`` when attached to a Trainer (the steps also work in a plain PyTorch loop)."""
        if self._trainer is not None:
            self.log(name, value, **kw)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        loss = self._loss(self(batch["image"]), batch)
        self._log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    def _eval_step(self, batch: Mapping[str, Any], stage: str, metrics: nn.ModuleDict) -> Tensor:
        images = batch["image"]
        output = self(images)
        loss = self._loss(output, batch)
        self._log(f"{stage}/loss", loss, prog_bar=stage == "val", sync_dist=True, batch_size=images.shape[0])
        if self.flip_test:
            output = _average(output, flip_output(self(images.flip(-1)), self.encoding, self.flip_index))
        kpts, scores = self.decode(output, batch["affine"])
        self._update_metrics(stage, metrics, kpts, scores, batch)
        return loss

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val", self.val_metrics)

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test", self.test_metrics)

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """-> ``{"keypoints" (B,K,2) original px, "scores" (B,K), "score" (B,) rescored instance score,
        "image_id", "bbox", "box_score"}`` (plus ``"affine"``, ``"image_path"`` when the batch has them)."""
        kpts, scores = self.decode(self.predict_output(batch["image"]), batch["affine"])
        n = kpts.shape[0]
        box_score = batch.get("score", torch.ones(n, device=kpts.device)).float()
        out = {
            "keypoints": kpts,
            "scores": scores.float(),
            "score": instance_scores(scores.float(), box_score, self.keypoint_score_threshold),
            "box_score": box_score,
            "image_id": batch.get("image_id"),
            "bbox": batch.get("bbox"),
        }
        for key in ("affine", "image_path", "instance_id"):
            if key in batch:
                out[key] = batch[key]
        return out

    # ------------------------------------------------------------------ metrics
    @staticmethod
    def _is_list_metric(metric: Metric) -> bool:
        """True for metrics fed per-image dicts (``update(preds, targets)``, e.g. ``KeypointAP``)."""
        from lit_heatmap.metrics import KeypointAP

        return isinstance(metric, KeypointAP)

    def _image_dicts(self, kpts: Tensor, scores: Tensor, batch: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
        """Group a batch's instances by ``image_id`` into KeypointAP's per-image pred / target dicts."""
        n, k = kpts.shape[:2]
        dev = kpts.device
        image_id = torch.as_tensor(batch["image_id"], device=dev).reshape(-1)
        box_score = torch.as_tensor(batch.get("score", torch.ones(n)), device=dev).float().reshape(-1)
        inst = instance_scores(scores.float(), box_score, self.keypoint_score_threshold)
        pred_kpts = torch.cat([kpts.float(), scores.float().unsqueeze(-1)], -1)  # (B, K, 3)
        gt_kpts = torch.cat([batch["orig_keypoints"].float(), batch["orig_visibility"].float().unsqueeze(-1)], -1)
        bbox = batch["bbox"].float()
        area = batch["area"].float() if "area" in batch else bbox[:, 2] * bbox[:, 3]
        preds, targets = [], []
        for img in torch.unique(image_id):
            sel = image_id == img
            preds.append({"image_id": img, "keypoints": pred_kpts[sel], "scores": inst[sel]})
            targets.append({
                "image_id": img, "keypoints": gt_kpts[sel], "area": area[sel], "bbox": bbox[sel],
                "iscrowd": torch.zeros(int(sel.sum()), device=dev),
            })  # fmt: skip
        return preds, targets

    def _update_metrics(self, stage: str, metrics: nn.ModuleDict, kpts: Tensor, scores: Tensor, batch: Mapping[str, Any]) -> None:
        """Tensor metrics get the instances that have ground truth (labelled keypoints); ``KeypointAP``
        gets every instance as a prediction, and its targets from the batch unless the datamodule
        supplied the split's ground truth (see :meth:`_split_targets`)."""
        if not len(metrics):
            return
        target = batch["orig_keypoints"].float()
        vis = batch["orig_visibility"].float()
        has_gt = vis.sum(1) > 0  # detected boxes carry no ground truth
        dicts = None
        for name, metric in metrics.items():
            if self._is_list_metric(metric):
                dicts = dicts or self._image_dicts(kpts, scores, batch)
                metric.update(dicts[0], [] if self._gt_from_datamodule.get(stage) else dicts[1])
            elif bool(has_gt.any()):
                sel = has_gt if not bool(has_gt.all()) else slice(None)
                pick = lambda key: None if batch.get(key) is None else batch[key][sel]  # noqa: E731
                metric.update(
                    kpts.float()[sel], target[sel], vis[sel], bbox=pick("bbox"), norm=pick("norm"),
                    area=pick("area"), subsets=pick("attributes"),
                )  # fmt: skip

    def _split_targets(self, stage: str, metrics: nn.ModuleDict) -> None:
        """Feed ``KeypointAP`` the split's whole ground truth when the datamodule has it
        (``datamodule.targets(split)``: COCO-style annotation files, crowd regions and unannotated
        persons included -- exactly what COCOeval sees, and the only ground truth there is when the
        boxes are detections). Added once, on rank 0; the metric's states gather the predictions of
        every rank. Otherwise (Synthetic, WFLW, plain datasets) the targets come from the batches."""
        list_metrics = [m for m in metrics.values() if self._is_list_metric(m)]
        dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        fn = getattr(dm, "targets", None)
        targets = fn(stage) if list_metrics and callable(fn) else None
        self._gt_from_datamodule[stage] = targets is not None
        if targets is not None and self.global_rank == 0:
            for metric in list_metrics:
                metric.update([], targets)

    def _log_metrics(self, metrics: nn.ModuleDict, stage: str) -> None:
        values: dict[str, Tensor] = {}
        for name in self.metric_names:
            metric = metrics[self._metric_keys[name]]
            if not metric.update_called:
                continue
            result = metric.compute()
            if isinstance(result, Mapping):
                values.update({f"{stage}/{k}": torch.as_tensor(v, dtype=torch.float32) for k, v in result.items()})
            else:
                values[f"{stage}/{name}"] = torch.as_tensor(result, dtype=torch.float32)
            metric.reset()
        if values:
            self.log_dict(values, prog_bar=False, sync_dist=False)

    def on_validation_epoch_start(self) -> None:
        self._split_targets("val", self.val_metrics)

    def on_test_epoch_start(self) -> None:
        self._split_targets("test", self.test_metrics)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, "test")

    # ------------------------------------------------------------------ optimisation / checkpoints
    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **self.scheduler_config}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        hp = checkpoint.get("hyper_parameters")
        if isinstance(hp, dict) and "backbone" in hp:
            hp["backbone"] = _without_pretrained(hp["backbone"])

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             strict: bool | None = None, weights_only: bool | None = False, **kwargs: Any) -> HeatmapModule:
        """``LightningModule.load_from_checkpoint`` with ``weights_only=False`` by default (the checkpoint
        holds the pickled partials and codec objects of ``save_hyperparameters``)."""
        return super().load_from_checkpoint(
            checkpoint_path, map_location=map_location, hparams_file=hparams_file, strict=strict,
            weights_only=weights_only, **kwargs,
        )  # fmt: skip
