"""Pure-torch metric kernels (the functional twins of :mod:`lit_heatmap.metrics`)."""

from lit_heatmap.metrics.functional.coco import coco_keypoint_eval, keypoint_ap
from lit_heatmap.metrics.functional.nme import epe, nme, nme_normalizer, per_sample_nme
from lit_heatmap.metrics.functional.oks import COCO_SIGMAS, keypoint_oks, oks_matrix
from lit_heatmap.metrics.functional.pck import pck, pck_auc, pck_normalizer
from lit_heatmap.metrics.functional.shared import WFLW_ATTRIBUTES, keypoint_distances

__all__ = [
    "COCO_SIGMAS",
    "WFLW_ATTRIBUTES",
    "coco_keypoint_eval",
    "epe",
    "keypoint_ap",
    "keypoint_distances",
    "keypoint_oks",
    "nme",
    "nme_normalizer",
    "oks_matrix",
    "pck",
    "pck_auc",
    "pck_normalizer",
    "per_sample_nme",
]
