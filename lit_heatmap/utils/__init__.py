"""Helpers shared by the train / eval / predict entry points (lightning-hydra-template style)."""

from lit_heatmap.utils.config import (
    ConfigCompatibilityError,
    build_metrics,
    build_model,
    check_compatibility,
    config_choices,
    extras,
    print_config_tree,
)
from lit_heatmap.utils.instantiators import instantiate_callbacks, instantiate_loggers
from lit_heatmap.utils.run import close_loggers, get_metric_value, log_hyperparameters

__all__ = [
    "ConfigCompatibilityError",
    "build_metrics",
    "build_model",
    "check_compatibility",
    "close_loggers",
    "config_choices",
    "extras",
    "get_metric_value",
    "instantiate_callbacks",
    "instantiate_loggers",
    "log_hyperparameters",
    "print_config_tree",
]
