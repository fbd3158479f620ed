"""Hydra config tree of lit_heatmap, installed as the package ``lit_heatmap.conf``.

This file makes the folder a regular package, so Hydra finds it with ``pkg://lit_heatmap.conf``
after both editable and non-editable installs, and registers the one resolver the tree uses:

* ``${if_none:VALUE,THEN,ELSE}``: THEN when VALUE is null, else ELSE. ``trainer.max_epochs`` uses it
  so that a run with a time budget (``trainer.max_time=00:00:10:00``) is not cut short by the
  default epoch count.
"""

from omegaconf import OmegaConf


def _if_none(value: object, then: object, otherwise: object) -> object:
    return then if value is None else otherwise


OmegaConf.register_new_resolver("if_none", _if_none, replace=True)
