"""Helpers shared by the entry points (lightning-hydra-template style): the config path and checks,
checkpoint loading, callbacks/loggers from config, end-of-run helpers."""

from lit_heatmap.utils.app import entry_point
from lit_heatmap.utils.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    model_hparams,
)
from lit_heatmap.utils.checks import ConfigError, check_config
from lit_heatmap.utils.config import (
    CONFIG_PATH,
    ConfigCompatibilityError,
    build_model,
    check_compatibility,
    config_choices,
    extras,
    print_config_tree,
)
from lit_heatmap.utils.ground_truth import attach_ground_truth
from lit_heatmap.utils.instantiators import instantiate_callbacks, instantiate_loggers
from lit_heatmap.utils.loggers import close_loggers, get_metric_value, log_hyperparameters
from lit_heatmap.utils.sweep import run_labels, save_result

__all__ = [
    "CONFIG_PATH",
    "attach_ground_truth",
    "CheckpointError",
    "ConfigError",
    "check_config",
    "entry_point",
    "ConfigCompatibilityError",
    "build_model",
    "check_compatibility",
    "close_loggers",
    "config_choices",
    "extras",
    "get_metric_value",
    "instantiate_callbacks",
    "instantiate_loggers",
    "load_checkpoint",
    "load_model",
    "log_hyperparameters",
    "model_hparams",
    "print_config_tree",
    "run_labels",
    "save_result",
]
