"""Lightning callbacks of the app: keypoint image panels for W&B / TensorBoard."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor

from lit_heatmap import visualize


def decode_batch(pl_module: L.LightningModule, images: Tensor) -> tuple[Any, Tensor, Tensor]:
    """Runs the model on uint8 ``images (B,3,H,W)`` and decodes: ``(raw output, keypoints (B,K,2) input px,
    scores (B,K))``."""
    with torch.no_grad():
        output = pl_module(images.to(pl_module.device))
        keypoints, scores = pl_module.decode(output)
    return output, keypoints.float().cpu(), scores.float().cpu()


class KeypointImageLogger(L.Callback):
    """Logs, after every ``every_n_epochs`` validation epoch, a panel of overlays (GT green,
    prediction red with skeleton) of the first ``num_images`` validation samples and predicted
    heatmaps (max over keypoints) of the first ``num_heatmaps``.

    W&B receives lists of ``wandb.Image`` under ``val/overlays`` and ``val/heatmaps``; TensorBoard
    receives grids. Other loggers (CSV) are skipped and nothing is computed for them.

    Args:
        num_images: overlays per panel.
        num_heatmaps: heatmap images per panel.
        every_n_epochs: log every n-th validation epoch.
        score_threshold: predicted keypoints below this score are not drawn.
    """

    def __init__(
        self, num_images: int = 8, num_heatmaps: int = 2, every_n_epochs: int = 1, score_threshold: float = 0.0
    ) -> None:
        super().__init__()
        self.num_images = int(num_images)
        self.num_heatmaps = int(num_heatmaps)
        self.every_n_epochs = max(1, int(every_n_epochs))
        self.score_threshold = float(score_threshold)
        self._batch: dict[str, Tensor] | None = None

    @staticmethod
    def _image_loggers(trainer: L.Trainer) -> list[Any]:
        return [lg for lg in trainer.loggers if isinstance(lg, (WandbLogger, TensorBoardLogger))]

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._batch = None

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self._batch is not None or dataloader_idx != 0 or not trainer.is_global_zero:
            return
        if trainer.sanity_checking or not self._image_loggers(trainer):
            return
        n = self.num_images
        self._batch = {k: batch[k][:n].detach().cpu() for k in ("image", "keypoints", "visibility")}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._batch is None or trainer.current_epoch % self.every_n_epochs != 0:
            return
        batch, self._batch = self._batch, None
        overlays, heatmaps = self.render(pl_module, batch, pl_module.meta.get("skeleton"))
        # the step Lightning logs this validation's metrics at (LearningRateMonitor uses it too);
        # trainer.global_step is already one optimizer step further
        step = trainer.fit_loop.epoch_loop._batches_that_stepped
        for lg in self._image_loggers(trainer):
            if isinstance(lg, WandbLogger):
                lg.log_image(
                    key="val/overlays",
                    images=overlays,
                    step=step,
                    caption=[f"sample {i}: GT green, prediction red" for i in range(len(overlays))],
                )
                if heatmaps:
                    lg.log_image(
                        key="val/heatmaps",
                        images=heatmaps,
                        step=step,
                        caption=[f"sample {i}: max over keypoints" for i in range(len(heatmaps))],
                    )
            else:
                lg.experiment.add_image("val/overlays", visualize.image_grid(overlays), step, dataformats="HWC")
                if heatmaps:
                    lg.experiment.add_image("val/heatmaps", visualize.image_grid(heatmaps), step, dataformats="HWC")

    def render(
        self, pl_module: L.LightningModule, batch: dict[str, Tensor], skeleton: list[tuple[int, int]] | None = None
    ) -> tuple[list, list]:
        """Overlay and heatmap images (``(H, W, 3)`` uint8 lists) for a batch of input images."""
        output, keypoints, scores = decode_batch(pl_module, batch["image"])
        maps = visualize.output_heatmaps(output).float().cpu()
        overlays, heatmaps = [], []
        for i in range(batch["image"].shape[0]):
            img = visualize.to_rgb(batch["image"][i])
            overlays.append(
                visualize.overlay_prediction(
                    img,
                    keypoints[i],
                    batch["keypoints"][i],
                    batch["visibility"][i],
                    scores[i] > self.score_threshold,
                    skeleton,
                )
            )
            if i < self.num_heatmaps:
                heatmaps.append(visualize.heatmap_image(maps[i], visualize.upscale(img)[0]))
        return overlays, heatmaps
