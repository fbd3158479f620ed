"""lit_heatmap: heatmap-based keypoint detection with Lightning and Hydra."""

__version__ = "0.1.0"
