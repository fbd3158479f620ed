"""HeatmapModule: the LightningModule that trains any timm backbone + head with any codec.

Data flows one way: a batch (see :mod:`lit_heatmap.data`) carries uint8 RGB images; the module
normalises them on the device (``mean``/``std`` are buffers, saved in checkpoints and exports), encodes
the targets on the device from ``keypoints``/``visibility``, and at val/test time decodes, maps the
keypoints to original pixels with ``affine`` and hands them to a :class:`KeypointEvaluator`.

Checkpoints are plain data: every part is given as its Hydra node (``{"_target_": ..., ...}``) and
stored that way with the dataset meta and mean/std, so ``torch.load(path, weights_only=True)`` and
``HeatmapModule.load_from_checkpoint(path)`` work without unpickling code; a checkpoint never stores
``pretrained=True`` (the weights are in it).

Speed on GPUs (``configure_model``, run by the Trainer on its device): on CUDA the network and the image
batch use ``channels_last`` (NHWC; cuDNN's fp16/bf16 convolutions want it), float32 matmuls may use
TF32 (``torch.set_float32_matmul_precision("high")``), and the optimizer is built with ``fused=True``
(``foreach=True`` on the CPU) where its class takes it and the node does not say otherwise.
``compile=True`` compiles the training forward with ``torch.compile`` (a function kept outside the
module's children: checkpoints stay plain, without ``_orig_mod.`` prefixes). None of this changes
checkpoints, exports or CPU results: a state_dict carries no memory format.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from lit_heatmap.codecs.compat import check_compatible
from lit_heatmap.codecs.flip import flip_test_average
from lit_heatmap.data.geometry import to_original
from lit_heatmap.data.meta import DatasetMeta
from lit_heatmap.metrics.evaluator import KeypointEvaluator
from lit_heatmap.metrics.functional.topdown import rescore
from lit_heatmap.nodes import (
    build,
    build_partial,
    plain,
    with_input_size,
    without_pretrained,
)
from lit_heatmap.schedulers import run_length_kwargs, scheduler_interval

__all__ = ["HeatmapModule", "optimizer_speed_kwargs", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def optimizer_speed_kwargs(make: Callable[..., Any], params: Sequence[Tensor]) -> dict[str, bool]:
    """The fastest implementation the optimizer class ``make`` (a ``functools.partial``) offers for ``params``:
    ``{"fused": True}`` when every parameter is on CUDA and the class takes ``fused``, else
    ``{"foreach": True}`` when it takes ``foreach`` (CPU: one kernel per op for all tensors instead of a
    Python loop; fused on the CPU raises in some torch versions); ``{}`` when the node already sets
    ``fused`` or ``foreach`` (the user's choice wins) or the class takes neither."""
    bound = getattr(make, "keywords", {}) or {}
    if bound.get("fused") is not None or bound.get("foreach") is not None:
        return {}
    try:
        accepted = inspect.signature(getattr(make, "func", make)).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return {}
    on_cuda = len(params) > 0 and all(p.is_cuda for p in params)
    if on_cuda and "fused" in accepted:
        return {"fused": True}
    if "foreach" in accepted:
        return {"foreach": True}
    return {}


class HeatmapModule(L.LightningModule):
    """Keypoint detection with a backbone, a head, an encoding, a decoder and a loss.

    Every part is a config node (a mapping with ``_target_``, as in ``conf/``), built here with
    ``hydra.utils.instantiate``; this is also what checkpoints store (plain data).

    Args:
        backbone: e.g. ``{"_target_": "lit_heatmap.models.Backbone", "name": "resnet18"}``.
        head: a head node, completed with ``in_channels``, ``in_strides``, ``num_keypoints``, ``encoding``.
        encoding: ``Heatmap2D`` / ``SimCC`` / ``Hybrid`` node; an unset ``input_size`` follows ``meta``.
        decoder: a decoder of that encoding.
        loss: a loss node.
        meta: the dataset's :class:`~lit_heatmap.data.DatasetMeta` (or its dict): keypoint names, skeleton,
            flip index (None: sides unknown), sigmas, category id, input size.
        optimizer: optimizer node (``_partial_``), called with the trainable parameters.
        scheduler: optional scheduler node (``_partial_``), called with the optimizer (and ``total_steps``,
            the run's optimizer steps, when it takes that argument and it is unset). Stepped per
            ``interval`` (the scheduler class's ``interval`` attribute, else ``"epoch"``).
        metrics: name -> metric node (e.g. ``{"AP": {"_target_": "lit_heatmap.metrics.KeypointAP"}}``),
            evaluated on val and test by a :class:`KeypointEvaluator` each.
        flip_test: average with the horizontally flipped pass at val/test/predict time.
        mean, std: RGB normalisation in [0, 1] units (ImageNet's by default).
        keypoint_score_threshold, nms_threshold: the top-down protocol (:class:`KeypointEvaluator`).
        channels_last: ``"auto"`` (NHWC on CUDA, NCHW elsewhere), ``True`` (NHWC on every device) or ``False``.
            A speed setting: not stored in checkpoints (a state_dict has no memory format).
        compile: compile the training forward with ``torch.compile`` when the Trainer starts (start-up
            cost: tens of seconds to minutes; eval and predict run eagerly). Not stored in checkpoints.
        keep_results: keep the predictions behind each epoch's val/test metrics (:meth:`results`), as
            ``lit-heatmap-eval`` does for ``results.json``. Not stored in checkpoints.

    Raises:
        ValueError: at construction, for parts that cannot work together (naming the classes), or for
            ``flip_test`` without a flip index.
    """

    def __init__(
        self,
        backbone: Mapping[str, Any],
        head: Mapping[str, Any],
        encoding: Mapping[str, Any],
        decoder: Mapping[str, Any],
        loss: Mapping[str, Any],
        meta: Mapping[str, Any] | DatasetMeta,
        optimizer: Mapping[str, Any] | None = None,
        scheduler: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Mapping[str, Any]] | None = None,
        flip_test: bool = False,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        keypoint_score_threshold: float = 0.2,
        nms_threshold: float | None = 0.9,
        channels_last: bool | str = "auto",
        compile: bool = False,  # noqa: A002 - the config key users type (model.compile=true)
        keep_results: bool = False,
    ) -> None:
        super().__init__()
        if channels_last not in ("auto", True, False):
            raise ValueError(f"model.channels_last must be auto, true or false, got {channels_last!r}")
        meta = plain(meta)
        encoding = with_input_size(plain(encoding), meta["input_size"])
        hparams = {
            "backbone": without_pretrained(plain(backbone)),
            "head": plain(head),
            "encoding": encoding,
            "decoder": plain(decoder),
            "loss": plain(loss),
            "meta": meta,
            "optimizer": plain(optimizer),
            "scheduler": plain(scheduler),
            "metrics": plain(metrics),
            "flip_test": bool(flip_test),
            "mean": [float(v) for v in mean],
            "std": [float(v) for v in std],
            "keypoint_score_threshold": float(keypoint_score_threshold),
            "nms_threshold": None if nms_threshold is None else float(nms_threshold),
        }
        self.save_hyperparameters(hparams, logger=False)
        self.meta = meta
        self.num_keypoints = len(meta["keypoint_names"])
        self.flip_index = meta.get("flip_index")
        self.flip_test = bool(flip_test)
        if self.flip_test and self.flip_index is None:
            raise ValueError(
                "HeatmapModule: flip_test=True needs the dataset's flip index, but its keypoint sides are unknown "
                "(give dataset.flip_pairs=)"
            )
        self.encoding = build(encoding)
        self.decoder = build(hparams["decoder"])
        self.loss = build(hparams["loss"])
        head_node = build_partial(hparams["head"])
        check_compatible(self.encoding, head=head_node, decoder=self.decoder, loss=self.loss)
        self.backbone = build(backbone)
        self.head = head_node(
            in_channels=list(self.backbone.channels),
            in_strides=list(self.backbone.strides),
            num_keypoints=self.num_keypoints,
            encoding=self.encoding,
        )
        self.register_buffer("pixel_mean", torch.tensor(hparams["mean"]).mul(255.0).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor(hparams["std"]).mul(255.0).view(1, 3, 1, 1))
        built = {name: build(node) for name, node in (hparams["metrics"] or {}).items()}
        self.evaluators = torch.nn.ModuleDict(
            {
                stage: KeypointEvaluator(
                    built,
                    self.num_keypoints,
                    meta.get("sigmas"),
                    keypoint_score_threshold,
                    nms_threshold,
                    keep_results=keep_results,
                )
                for stage in ("val", "test")
            }
        )
        self._batches_seen = 0
        self.channels_last_setting: bool | str = channels_last
        self.compile_forward = bool(compile)
        self._channels_last = False  # the network's current memory format is NHWC
        self._train_forward: Callable[[Tensor], Any] | None = None  # torch.compile'd forward (not a child)

    # ------------------------------------------------------------------ device set-up
    def use_channels_last(self, enabled: bool = True) -> HeatmapModule:
        """Converts the network's 4D weights to ``channels_last`` (or back to contiguous) and makes
        :meth:`forward` convert the image batch alike. Outputs are the same up to float rounding."""
        fmt = torch.channels_last if enabled else torch.contiguous_format
        self.backbone.to(memory_format=fmt)
        self.head.to(memory_format=fmt)
        self._channels_last = bool(enabled)
        return self

    def configure_model(self) -> None:
        """Run by the Trainer before the model moves to its device and the optimizer is built: on CUDA,
        ``channels_last`` (unless ``channels_last=False``) and TF32 matmuls; ``compile=True`` compiles
        the training forward. Idempotent (fit then test call it twice)."""
        on_cuda = self._trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        if on_cuda and torch.get_float32_matmul_precision() == "highest":
            torch.set_float32_matmul_precision("high")
        setting = self.channels_last_setting
        if (setting is True or (setting == "auto" and on_cuda)) and not self._channels_last:
            self.use_channels_last(True)
        if self.compile_forward and self._train_forward is None:
            self._train_forward = torch.compile(self.forward)

    # ------------------------------------------------------------------ forward / decode
    def forward(self, images: Tensor) -> Any:
        """RGB images ``(B, 3, H, W)``, uint8 (or float) in 0..255 -> the head's raw output."""
        if self._channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        x = (images.float() - self.pixel_mean) / self.pixel_std
        return self.head(self.backbone(x))

    def predict_output(self, images: Tensor) -> Any:
        """Forward pass, averaged with the flipped pass when ``flip_test`` is on."""
        output = self(images)
        if self.flip_test:
            output = flip_test_average(output, self(images.flip(-1)), self.encoding, self.flip_index)
        return output

    def decode(self, output: Any, affine: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Raw output -> keypoints ``(B, K, 2)`` (original px when ``affine (B, 2, 3)`` is given, else input px)
        and scores ``(B, K)``."""
        kpts, scores = self.decoder.decode(output, self.encoding)
        if affine is not None:
            kpts = to_original(kpts.float(), affine.float())
        return kpts, scores.float()

    def _loss(self, output: Any, batch: Mapping[str, Any]) -> Tensor:
        keypoints = batch["keypoints"].float()
        with torch.no_grad():
            target, weight = self.encoding.encode(keypoints, batch["visibility"].float())
        return self.loss(output, target, weight, keypoints=keypoints, encoding=self.encoding)

    # ------------------------------------------------------------------ steps
    def _log(self, name: str, value: Tensor, **kw: Any) -> None:
        """``self.log`` when attached to a Trainer (the steps also work in a plain PyTorch loop)."""
        if self._trainer is not None:
            self.log(name, value, **kw)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        forward = self._train_forward or self
        loss = self._loss(forward(batch["image"]), batch)
        self._log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    def _eval_step(self, batch: Mapping[str, Any], stage: str) -> Tensor:
        images = batch["image"]
        output = self(images)
        loss = self._loss(output, batch)
        self._log(f"{stage}/loss", loss, prog_bar=stage == "val", sync_dist=True, batch_size=images.shape[0])
        if self.flip_test:
            output = flip_test_average(output, self(images.flip(-1)), self.encoding, self.flip_index)
        kpts, scores = self.decode(output, batch["affine"])
        self.evaluators[stage].update(kpts, scores, batch)
        self._batches_seen += 1
        return loss

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """-> ``{"keypoints" (B,K,2) original px, "scores" (B,K), "score" (B,) rescored instance score}``
        plus the batch's ``image_id``, ``bbox``, ``score`` (as ``box_score``) and ``image_path``."""
        kpts, scores = self.decode(self.predict_output(batch["image"]), batch["affine"])
        box_score = batch.get("score", torch.ones(kpts.shape[0], device=kpts.device)).float()
        out = {
            "keypoints": kpts,
            "scores": scores,
            "box_score": box_score,
            "score": rescore(scores, box_score, self.hparams.keypoint_score_threshold),
        }
        out.update({key: batch[key] for key in ("image_id", "bbox", "image_path") if key in batch})
        return out

    # ------------------------------------------------------------------ evaluation
    def set_ground_truth(self, stage: str, coco: Mapping[str, Any] | None) -> None:
        """The ground truth of the ``stage`` ("val" / "test") split, a COCO-style dict (the dataset's
        ``ground_truth()``), for ``KeypointAP``. Ignored when no metric needs it."""
        if coco is not None and self.evaluators[stage].needs_ground_truth:
            self.evaluators[stage].set_ground_truth(coco)

    def on_validation_epoch_start(self) -> None:
        self._batches_seen = 0

    on_test_epoch_start = on_validation_epoch_start

    def _epoch_end(self, stage: str) -> None:
        loaders = self.trainer.val_dataloaders if stage == "val" else self.trainer.test_dataloaders
        try:
            total = len(loaders)
        except TypeError:  # several loaders or an iterable without len(): treat as complete
            total = self._batches_seen
        partial = self.trainer.sanity_checking or self._batches_seen < total
        evaluator = self.evaluators[stage]
        if partial and evaluator.needs_ground_truth and not self.trainer.sanity_checking:
            if not getattr(self, f"_told_partial_{stage}", False):
                rank_zero_info(
                    f"{stage}/AP is scored on the images of the {self._batches_seen} of {total} batches "
                    f"seen per process (limit_{stage}_batches), not on the whole split"
                )
                setattr(self, f"_told_partial_{stage}", True)
        values = evaluator.compute(seen_only=partial)
        evaluator.reset()
        if values:
            self.log_dict({f"{stage}/{k}": v.float() for k, v in values.items()}, sync_dist=False)

    def results(self, stage: str = "val") -> dict[str, Tensor] | None:
        """The predictions behind the last ``stage`` metrics (``keep_results=True``), in original pixels,
        after rescoring and OKS-NMS: ``{"image_id" (N,), "keypoints" (N, K, 2), "keypoint_scores" (N, K),
        "score" (N,), "bbox" (N, 4)}``; None before an evaluation or without ``keep_results``."""
        return self.evaluators[stage].results

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        if self.hparams.optimizer is None:
            raise ValueError("HeatmapModule: training needs an optimizer node (optimizer=)")
        params = [p for p in self.parameters() if p.requires_grad]
        make = build_partial(self.hparams.optimizer)
        optimizer = make(params, **optimizer_speed_kwargs(make, params))
        if self.hparams.scheduler is None:
            return optimizer
        make = build_partial(self.hparams.scheduler)
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        budget = timer.time_remaining() if timer is not None else None
        scheduler = make(optimizer, **run_length_kwargs(make, float(self.trainer.estimated_stepping_batches), budget))
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": scheduler_interval(scheduler)},
        }
