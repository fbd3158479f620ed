"""Hydra config tree of lit_heatmap, installed as the package ``lit_heatmap.conf``.

This file makes the folder a regular package, so Hydra finds it with ``pkg://lit_heatmap.conf``
after both editable and non-editable installs, and registers the resolvers the tree uses:

* ``${if_none:VALUE,THEN,ELSE}``: THEN when VALUE is null, else ELSE. ``trainer.max_epochs`` uses it
  so that a run with a time budget (``trainer.max_time=00:00:10:00``) is not cut short by the
  default epoch count.
* ``${mixed_precision:}``: ``bf16-mixed`` where the CUDA device computes bf16 natively (Ampere and
  newer), else ``16-mixed``; resolved when the Trainer is built, on the machine that trains
  (``trainer=gpu``, ``trainer=ddp``).
"""

from omegaconf import OmegaConf


def _if_none(value: object, then: object, otherwise: object) -> object:
    return then if value is None else otherwise


def _mixed_precision() -> str:
    import torch  # here, not at import: composing a config needs no torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
        return "bf16-mixed"
    return "16-mixed"


OmegaConf.register_new_resolver("if_none", _if_none, replace=True)
OmegaConf.register_new_resolver("mixed_precision", _mixed_precision, replace=True)
