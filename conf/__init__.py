"""Hydra config tree of lit_heatmap, installed as the package ``lit_heatmap.conf``.

Nothing to import: this file only makes the folder a regular package so Hydra finds it with
``pkg://lit_heatmap.conf`` after both editable and non-editable installs.
"""
