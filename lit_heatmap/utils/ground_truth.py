"""The set-up step that gives a model's evaluators the ground truth of their splits."""

from __future__ import annotations

from typing import Any


def attach_ground_truth(model: Any, datamodule: Any, stages: tuple[str, ...] = ("val",)) -> None:
    """Give the model's evaluators the ground truth of their splits (``datamodule.ground_truth(split)``),
    for the metrics that need it (``KeypointAP``); the dataset is read only when one does."""
    for stage in stages:
        if model.evaluators[stage].needs_ground_truth:
            model.set_ground_truth(stage, datamodule.ground_truth(stage))
