"""Inference as one graph: uint8 RGB crops in, keypoints and scores out -- in PyTorch, TorchScript or ONNX.

:class:`KeypointPredictor` is what ``lit-heatmap-export`` writes and what ``lit-heatmap-predict`` runs
from a checkpoint: normalisation, backbone, head, the optional flip-test pass and its average, and the
checkpoint's decoder, all inside ``forward``. :class:`OnnxPredictor` runs an exported file through
onnxruntime with the same call, so predictions from a checkpoint and from its export go through the
same code. :func:`model_metadata` is what the exported file carries so that a consumer needs nothing
else from this project.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lit_heatmap.codecs import flip_test_average

__all__ = [
    "KeypointPredictor",
    "OnnxPredictor",
    "model_metadata",
    "PIXEL_CONVENTION",
    "CROP_TO_ORIGINAL",
]

PIXEL_CONVENTION = (
    "pixel centres: the centre of pixel column j, row i is (x=j, y=i); an image of width W spans [-0.5, W-0.5]"
)
CROP_TO_ORIGINAL = (
    "keypoints are in input pixels of the crop. A crop of box [x, y, w, h] (original pixels): widen w or h to the "
    "input's aspect ratio W_in/H_in, multiply both by the padding (1.0 for a whole image; for a box, the "
    "'padding' entry: what the model was trained with) "
    "to get (sw, sh), centre c = (x + w/2, y + h/2); warp that region onto the W_in x H_in input. Back to original "
    "pixels: X = c_x + (u - (W_in - 1)/2) * sw / W_in, Y = c_y + (v - (H_in - 1)/2) * sh / H_in."
)


class KeypointPredictor(nn.Module):
    """uint8 RGB crops ``(B, 3, H, W)`` -> ``keypoints (B, K, 2)`` in input pixels, ``scores (B, K)``.

    Args:
        model: a :class:`~lit_heatmap.module.HeatmapModule` (its normalisation buffers, backbone, head,
            encoding, decoder, flip index).
        flip_test: add the horizontally flipped pass and average it (default: the model's setting).
    """

    def __init__(self, model: nn.Module, flip_test: bool | None = None) -> None:
        super().__init__()
        self.backbone, self.head = model.backbone, model.head
        self.register_buffer("pixel_mean", model.pixel_mean.detach().clone())
        self.register_buffer("pixel_std", model.pixel_std.detach().clone())
        self.encoding, self.decoder = model.encoding, model.decoder
        self.flip_test = bool(model.flip_test if flip_test is None else flip_test)
        self.flip_index = model.flip_index
        if self.flip_test and self.flip_index is None:
            raise ValueError("flip_test needs the dataset's flip index, but this model's keypoint sides are unknown")
        self.meta = dict(model.meta)

    def _output(self, images: Tensor) -> Any:
        return self.head(self.backbone((images.float() - self.pixel_mean) / self.pixel_std))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        output = self._output(images)
        if self.flip_test:
            output = flip_test_average(output, self._output(images.flip(-1)), self.encoding, self.flip_index)
        keypoints, scores = self.decoder.decode(output, self.encoding)
        return keypoints, scores

    @property
    def input_size(self) -> tuple[int, int]:
        """``(w, h)`` of the crops."""
        w, h = self.meta["input_size"]
        return int(w), int(h)


def model_metadata(predictor: KeypointPredictor) -> dict[str, str]:
    """What an exported file carries (ONNX ``metadata_props``, TorchScript extra files), as strings
    (JSON for lists): keypoint names, skeleton, flip index, input size ``(w, h)``, mean/std (0..255
    units), the pixel-centre convention, how to map input pixels back to the original image, and more."""
    meta = predictor.meta
    return {
        "producer": "lit_heatmap",
        "inputs": "images: (B, 3, H, W) uint8 RGB crops, H x W = input_size (normalisation is inside the graph)",
        "outputs": "keypoints: (B, K, 2) float32 (x, y) in input pixels; scores: (B, K) float32",
        "keypoint_names": json.dumps(list(meta["keypoint_names"])),
        "skeleton": json.dumps([list(e) for e in meta.get("skeleton", [])]),
        "flip_index": json.dumps(meta.get("flip_index")),
        "sigmas": json.dumps(list(meta.get("sigmas", []))),
        "category_id": json.dumps(int(meta.get("category_id", 1))),
        "dataset": str(meta.get("name", "")),
        "input_size": json.dumps(list(predictor.input_size)),
        "padding": json.dumps(float(meta.get("padding", 1.25))),
        "mean": json.dumps(predictor.pixel_mean.reshape(-1).tolist()),
        "std": json.dumps(predictor.pixel_std.reshape(-1).tolist()),
        "pixel_convention": PIXEL_CONVENTION,
        "crop_to_original": CROP_TO_ORIGINAL,
        "decoder": repr(predictor.decoder),
        "encoding": repr(predictor.encoding),
        "flip_test": json.dumps(predictor.flip_test),
    }


def _meta_from_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    """The dataset meta written by :func:`model_metadata`."""
    return {
        "name": props.get("dataset", ""),
        "keypoint_names": json.loads(props["keypoint_names"]),
        "skeleton": json.loads(props.get("skeleton", "[]")),
        "flip_index": json.loads(props.get("flip_index", "null")),
        "sigmas": json.loads(props.get("sigmas", "[]")),
        "category_id": json.loads(props.get("category_id", "1")),
        "input_size": json.loads(props["input_size"]),
        "padding": json.loads(props.get("padding", "1.25")),
    }


class OnnxPredictor:
    """An exported ONNX file run through onnxruntime (CPU), called like :class:`KeypointPredictor`.

    Args:
        path: the ``.onnx`` file written by ``lit-heatmap-export``.
        threads: onnxruntime's intra-op threads (``None``: its default, one per physical core); inter-op
            parallelism stays off (one graph, run sequentially), graph optimisations are all on.

    Raises:
        ValueError: a file without this project's metadata.
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(str(path)).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f"model={str(path)!r}: no such ONNX file")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if props.get("producer") != "lit_heatmap":
            raise ValueError(f"{self.path} was not written by lit-heatmap-export (no lit_heatmap metadata)")
        self.meta = _meta_from_metadata(props)
        self.metadata = dict(props)
        self.flip_test = json.loads(props.get("flip_test", "false"))
        first = self.session.get_inputs()[0].shape[0]
        self.batch = int(first) if isinstance(first, int) and first > 0 else None  # None: dynamic

    @property
    def input_size(self) -> tuple[int, int]:
        w, h = self.meta["input_size"]
        return int(w), int(h)

    def __call__(self, images: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """``images (B, 3, H, W)`` uint8 -> ``keypoints (B, K, 2)``, ``scores (B, K)`` (torch, float32).

        A file exported with a fixed batch (``batch=N``) runs in chunks of N; the last partial chunk is
        padded with blank images whose outputs are dropped."""
        arr = np.ascontiguousarray(images.cpu().numpy() if isinstance(images, Tensor) else images, dtype=np.uint8)
        if self.batch is None or len(arr) == self.batch:
            keypoints, scores = self.session.run(["keypoints", "scores"], {"images": arr})
            return torch.from_numpy(keypoints), torch.from_numpy(scores)
        outs = []
        for i in range(0, len(arr), self.batch):
            chunk = arr[i : i + self.batch]
            n = len(chunk)
            if n < self.batch:
                chunk = np.concatenate([chunk, np.zeros((self.batch - n, *chunk.shape[1:]), np.uint8)])
            keypoints, scores = self.session.run(["keypoints", "scores"], {"images": chunk})
            outs.append((keypoints[:n], scores[:n]))
        return torch.from_numpy(np.concatenate([o[0] for o in outs])), torch.from_numpy(
            np.concatenate([o[1] for o in outs])
        )

    def eval(self) -> OnnxPredictor:
        return self
