"""RunSchedule: when a run validates, when a time budget ends it, and what its progress bar shows.

Lightning validates every ``trainer.val_check_interval`` batches when ``check_val_every_n_epoch`` is None
(``conf/trainer/default.yaml``). This callback adds what Lightning 2.6 lacks:

* at least ``min_seconds`` between validations (the later of N steps and M seconds), stretched so that
  validation costs at most ``max_cost`` of the run (measured: the last validation's duration, checkpoint
  writes included);
* one validation at the last step of the run (``max_steps`` / ``max_epochs``), so the final weights are scored;
* ``trainer.max_time``: training stops early enough for the final validation and ``last.ckpt`` to fit in
  the budget (their duration is the last validation's, else estimated from the sanity check), says so
  once, and tells :class:`~lit_heatmap.schedulers.WarmupCosineLR` where training ends so the schedule
  reaches ``eta_min`` there;
* ``train/images_per_s`` (also in the progress bar) and ``train/lr`` as logged metrics;
* the Rich progress bar reads ``Epoch 7 · budget 0:10:00`` instead of Lightning's ``Epoch 7/-2`` when
  there is no epoch limit.
"""

from __future__ import annotations

import time
import types
from datetime import timedelta
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar, Timer
from lightning.pytorch.utilities import rank_zero_info

__all__ = ["RunSchedule", "epoch_text"]


def epoch_text(epoch: int, max_epochs: int | None, max_steps: int, budget_s: float | None) -> str:
    """The progress bar's train description: ``Epoch e/last`` with an epoch limit, else the limit that ends
    the run (``Epoch 7 · budget 0:10:00``, ``Epoch 7 · 500 steps``), else ``Epoch 7``."""
    if budget_s:
        return f"Epoch {epoch} · budget {timedelta(seconds=int(budget_s))}"
    if max_epochs is not None and max_epochs >= 0:
        return f"Epoch {epoch}/{max_epochs - 1}"
    if max_steps and max_steps > 0:
        return f"Epoch {epoch} · {max_steps} steps"
    return f"Epoch {epoch}"


class RunSchedule(L.Callback):
    """Validation cadence, time budget, throughput and epoch text of a training run (see the module doc).

    Args:
        min_seconds: at least this many seconds between validations (the step interval is
            ``trainer.val_check_interval``; the later of the two wins).
        max_cost: validations are spaced so that they take at most this fraction of the run.
        window: optimizer steps over which ``train/images_per_s`` is averaged.
    """

    def __init__(self, min_seconds: float = 60.0, max_cost: float = 0.05, window: int = 20) -> None:
        super().__init__()
        self.min_seconds = float(min_seconds)
        self.max_cost = float(max_cost)
        self.window = max(1, int(window))
        self._active = False
        self._last_val_step = 0
        self._last_val_time = 0.0
        self._val_start: float | None = None
        self._val_seconds: float | None = None  # the last validation, checkpoint writes included
        self._sanity: list[float] = []
        self._told = False
        self._win: tuple[float, int, int] | None = None  # (start time, images, steps)
        self._rate: float | None = None

    # ---------------------------------------------------------------- set-up
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        bar = trainer.progress_bar_callback
        if isinstance(bar, RichProgressBar):
            timer = self._timer(trainer)
            budget = getattr(timer, "_duration", None)

            def describe(bar_self: RichProgressBar, current_epoch: int) -> str:
                t = bar_self.trainer
                return epoch_text(current_epoch, t.max_epochs, t.max_steps, budget)

            bar._get_train_description = types.MethodType(describe, bar)  # Lightning's reads "Epoch 7/-2"

    @staticmethod
    def _timer(trainer: L.Trainer) -> Timer | None:
        return next((c for c in trainer.callbacks if isinstance(c, Timer) and c._duration), None)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the step cadence is ours only in Lightning's "every N batches across epochs" mode
        self._active = (
            trainer.check_val_every_n_epoch is None
            and isinstance(trainer.val_check_interval, int)
            and getattr(trainer, "_val_check_time_interval", None) is None
        )
        self._last_val_step = trainer.global_step
        self._last_val_time = time.monotonic()

    # ---------------------------------------------------------------- timing of validations
    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            self._sanity = [time.monotonic()]
        else:
            self._val_start = time.monotonic()

    def on_validation_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.sanity_checking:
            self._sanity.append(time.monotonic())

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        now = time.monotonic()
        if self._val_start is not None:
            self._val_seconds = now - self._val_start  # validation + checkpoint writes
            self._last_val_time, self._last_val_step = now, trainer.global_step
            self._win = None
        self._val_start = None
        if self._win is None:
            self._win = (now, 0, 0)
        self._fit_schedule(trainer)

    def _final_seconds(self, trainer: L.Trainer) -> float:
        """Expected duration of the final validation + checkpoints."""
        if self._val_seconds is not None:
            return 1.2 * self._val_seconds
        if len(self._sanity) >= 3:  # the sanity check's start, then its batch ends; the first batch starts workers
            per_batch = (self._sanity[-1] - self._sanity[1]) / (len(self._sanity) - 2)
            n = trainer.num_val_batches
            total = sum(n) if isinstance(n, list) else n
            return 1.2 * per_batch * float(total or 0) + 1.0
        return 1.0

    def _reserve(self, trainer: L.Trainer, timer: Timer) -> float:
        return min(self._final_seconds(trainer), 0.25 * timer._duration)

    def _fit_schedule(self, trainer: L.Trainer) -> None:
        """Tells a time-fitted scheduler (WarmupCosineLR) that training ends ``reserve`` before the budget."""
        timer = self._timer(trainer)
        if timer is None:
            return
        for cfg in trainer.lr_scheduler_configs:
            s = cfg.scheduler
            if getattr(s, "time_budget", None) and hasattr(s, "elapsed"):
                # the scheduler's clock stands at its last step: add the time since (data loading)
                tick = getattr(s, "_last_tick", None)
                since = time.monotonic() - tick if tick is not None else 0.0
                left = timer.time_remaining() - self._reserve(trainer, timer)
                s.time_budget = max(s.elapsed + since + left, 1e-3)

    # ---------------------------------------------------------------- every batch
    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.monotonic()
        self._log_speed(trainer, pl_module, batch, now)
        timer = self._timer(trainer)
        if timer is not None and not trainer.should_stop:
            stop = timer.time_remaining() <= self._reserve(trainer, timer)
            stop = trainer.strategy.broadcast(stop)
            if stop:
                trainer.should_stop = True
                if not self._told:
                    self._told = True
                    rank_zero_info(
                        f"Time limit reached: trainer.max_time={timedelta(seconds=int(timer._duration))}; training "
                        f"stops at step {trainer.global_step}, leaving {self._reserve(trainer, timer):.0f} s of the "
                        "budget for the final validation and last.ckpt"
                    )
        if not self._active:
            return
        steps = trainer.global_step - self._last_val_step
        wait = max(self.min_seconds, (self._val_seconds or 0.0) / max(self.max_cost, 1e-6))
        due = steps >= int(trainer.val_check_interval) and now - self._last_val_time >= wait
        due = due or self._is_last_batch(trainer, batch_idx)
        due = bool(trainer.strategy.broadcast(due))
        total = trainer.fit_loop.total_batch_idx + 1
        # Lightning validates when (total batches) % val_check_batch == 0
        trainer.val_check_batch = total if due else total + 1

    @staticmethod
    def _is_last_batch(trainer: L.Trainer, batch_idx: int) -> bool:
        if trainer.max_steps and trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            return True
        last_epoch = trainer.max_epochs is not None and trainer.current_epoch >= trainer.max_epochs - 1 >= 0
        return bool(last_epoch and batch_idx + 1 >= trainer.num_training_batches)

    def _log_speed(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, now: float) -> None:
        images = batch["image"].shape[0] if isinstance(batch, dict) and "image" in batch else 0
        if self._win is None:
            return
        start, n, steps = self._win
        n, steps = n + images * trainer.world_size, steps + 1
        if now > start and steps >= 2:
            self._rate = n / (now - start)
        self._win = (now, 0, 0) if steps >= self.window else (start, n, steps)
        if self._rate is not None:
            pl_module.log("train/images_per_s", self._rate, prog_bar=True, on_step=True, on_epoch=False, batch_size=1)
        if trainer.optimizers:
            lr = float(trainer.optimizers[0].param_groups[0]["lr"])
            pl_module.log("train/lr", lr, on_step=True, on_epoch=False, batch_size=1)
