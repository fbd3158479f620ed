"""Learning-rate schedules: linear warmup then cosine decay over the run, by steps or by time.

``conf/scheduler/cosine.yaml`` (the default) builds :class:`WarmupCosineLR`; the LightningModule gives it
the run's length (``total_steps`` = Lightning's estimated optimizer steps, and ``time_budget`` =
``trainer.max_time`` when set), so the decay ends when the run ends, whichever limit stops it.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CyclicLR, LRScheduler, OneCycleLR

__all__ = ["WarmupCosineLR", "run_length_kwargs", "scheduler_interval"]


class WarmupCosineLR(LRScheduler):
    """Linear warmup from ~0 to each group's lr, then cosine decay to ``eta_min``; stepped every
    optimizer step (``interval = "step"``).

    Args:
        optimizer: the optimizer.
        total_steps: optimizer steps in the run (None or inf: unknown, e.g. a run limited by time only).
        warmup_steps: an int number of steps, or a float < 1: that fraction of the run (default 2 %).
        eta_min: the final learning rate.
        time_budget: seconds the run may last (``trainer.max_time``); None = unlimited.

    Progress through the run is ``max(step / total_steps, elapsed / time_budget)``, so a run stopped by
    ``max_time`` still ends its decay at ``eta_min``. Elapsed time is counted between scheduler steps
    and saved in ``state_dict`` (resuming continues where the run stopped).
    """

    interval = "step"

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int | float | None = None,
        warmup_steps: int | float = 0.02,
        eta_min: float = 1.0e-6,
        time_budget: float | None = None,
        last_epoch: int = -1,
    ) -> None:
        finite = total_steps is not None and math.isfinite(float(total_steps)) and float(total_steps) > 0
        self.total_steps = int(total_steps) if finite else None
        if self.total_steps is None and not time_budget:
            raise ValueError(
                "WarmupCosineLR needs total_steps (trainer.max_epochs / max_steps) or time_budget "
                "(trainer.max_time) to know when the run ends"
            )
        if isinstance(warmup_steps, float) and not 0.0 <= warmup_steps < 1.0:
            raise ValueError(f"WarmupCosineLR: a fractional warmup_steps must be in [0, 1), got {warmup_steps}")
        if isinstance(warmup_steps, float) and self.total_steps is not None:
            warmup_steps = int(round(warmup_steps * self.total_steps))
        self.warmup_steps = warmup_steps
        self.eta_min = float(eta_min)
        self.time_budget = float(time_budget) if time_budget else None
        self.elapsed = 0.0
        self.warmup_end: float | None = None  # progress at the first step after the warmup
        self._last_tick: float | None = None
        super().__init__(optimizer, last_epoch)

    def progress(self) -> float:
        """Fraction of the run done, in [0, 1]."""
        p = self.last_epoch / self.total_steps if self.total_steps else 0.0
        if self.time_budget:
            p = max(p, self.elapsed / self.time_budget)
        return min(max(p, 0.0), 1.0)

    def _warming(self, p: float) -> bool:
        if isinstance(self.warmup_steps, int):
            return self.last_epoch < self.warmup_steps
        return p < self.warmup_steps

    def get_lr(self) -> list[float]:
        p = self.progress()
        if self._warming(p):
            if isinstance(self.warmup_steps, int):
                f = (self.last_epoch + 1) / (self.warmup_steps + 1)
            else:
                f = max(p / self.warmup_steps, 1e-3)
            return [base * f for base in self.base_lrs]
        if self.warmup_end is None:
            self.warmup_end = p  # the decay starts at the full learning rate
        q = min(max((p - self.warmup_end) / max(1.0 - self.warmup_end, 1e-12), 0.0), 1.0)
        cos = 0.5 * (1.0 + math.cos(math.pi * q))
        return [self.eta_min + (base - self.eta_min) * cos for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        now = time.monotonic()
        if self._last_tick is not None:
            self.elapsed += now - self._last_tick
        self._last_tick = now
        super().step(epoch)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.pop("_last_tick", None)  # a clock reading means nothing in another process
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._last_tick = None


def scheduler_interval(scheduler: Any) -> str:
    """How often Lightning steps ``scheduler``: its ``interval`` attribute, ``"step"`` for torch's per-batch
    schedules (OneCycleLR, CyclicLR), else ``"epoch"``."""
    default = "step" if isinstance(scheduler, (OneCycleLR, CyclicLR)) else "epoch"
    return str(getattr(scheduler, "interval", default))


def run_length_kwargs(make: functools.partial, total_steps: float, time_budget: float | None) -> dict[str, Any]:
    """The run's length for the scheduler constructor bound in ``make``: ``total_steps`` and
    ``time_budget`` for the arguments of those names it takes and its node left unset."""
    params = inspect.signature(make.func).parameters
    out: dict[str, Any] = {}
    if "total_steps" in params and make.keywords.get("total_steps") is None:
        if not math.isfinite(total_steps) and make.func is not WarmupCosineLR:
            raise ValueError(
                f"{make.func.__name__} needs total_steps: set trainer.max_epochs or trainer.max_steps "
                "(or scheduler.total_steps)"
            )
        out["total_steps"] = int(total_steps) if math.isfinite(total_steps) else None
    if "time_budget" in params and make.keywords.get("time_budget") is None:
        out["time_budget"] = time_budget
    return out
