"""``lit-heatmap-export``: a checkpoint as one deployable graph, decoder inside (ONNX or TorchScript).

Usage::

    lit-heatmap-export ckpt_path=best.ckpt format=onnx output=model.onnx
    lit-heatmap-export ckpt_path=best.ckpt format=torchscript output=model.pt flip_test=true batch=1

The graph takes ``images (B, 3, H, W)`` uint8 RGB crops (normalisation inside) and returns
``keypoints (B, K, 2)`` in input pixels and ``scores (B, K)``, decoded by the checkpoint's decoder (and
averaged with the flipped pass when ``flip_test``). The file carries the keypoint names, skeleton, flip
index, input size, mean/std, the pixel-centre convention and how to map input pixels back to the
original image (ONNX ``metadata_props``; TorchScript extra files). ``lit-heatmap-predict model=model.onnx``
runs it with onnxruntime; see the README section "Deploy without Python dependencies on this project".
"""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from lit_heatmap import utils
from lit_heatmap.codecs import check_exportable
from lit_heatmap.inference import KeypointPredictor, OnnxPredictor, model_metadata

FORMATS = ("onnx", "torchscript")


def export(cfg: DictConfig) -> Path:
    """Writes the graph of ``cfg.ckpt_path`` to ``cfg.output`` and checks it against PyTorch.

    Returns:
        the written file.

    Raises:
        ValueError: an unknown ``format``/``batch``, or a decoder that cannot be exported (naming it).
    """
    fmt = str(cfg.format)
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r}: use format=onnx or format=torchscript")
    dynamic = str(cfg.batch) == "dynamic"
    if not dynamic and not (str(cfg.batch).isdigit() and int(cfg.batch) > 0):
        raise ValueError(f"batch={cfg.batch!r}: use batch=dynamic or a positive batch size")
    model = utils.load_model(cfg.ckpt_path, bool(cfg.get("trust_checkpoint", False)))
    check_exportable(model.decoder, model.encoding)
    predictor = KeypointPredictor(model, cfg.get("flip_test")).eval()
    w, h = predictor.input_size
    example = torch.randint(0, 256, (2 if dynamic else int(cfg.batch), 3, h, w), dtype=torch.uint8)
    out = Path(str(cfg.output)).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = model_metadata(predictor)
    if fmt == "onnx":
        write_onnx(predictor, example, out, metadata, dynamic, int(cfg.opset))
        exported = OnnxPredictor(out)
    else:
        write_torchscript(predictor, example, out, metadata)
        exported = torch.jit.load(str(out))
    with torch.inference_mode():
        ref_k, ref_s = predictor(example)
        got_k, got_s = exported(example)
    dk, ds = float((ref_k - got_k).abs().max()), float((ref_s - got_s).abs().max())
    print(
        f"lit-heatmap-export: {out} ({fmt}, batch {'dynamic' if dynamic else cfg.batch}, flip_test "
        f"{predictor.flip_test}); max difference to PyTorch on a random batch: {dk:.2e} px, {ds:.2e} score",
        flush=True,
    )
    return out


def write_onnx(
    predictor: KeypointPredictor,
    example: torch.Tensor,
    path: Path,
    metadata: dict[str, str],
    dynamic: bool = True,
    opset: int = 17,
) -> None:
    """``torch.onnx.export`` (TorchScript-based exporter) with inputs ``images``, outputs ``keypoints``,
    ``scores`` (dynamic batch axis when ``dynamic``), then the metadata into ``metadata_props``."""
    import onnx

    axes = {"images": {0: "batch"}, "keypoints": {0: "batch"}, "scores": {0: "batch"}} if dynamic else None
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            predictor,
            (example,),
            str(path),
            input_names=["images"],
            output_names=["keypoints", "scores"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def write_torchscript(
    predictor: KeypointPredictor, example: torch.Tensor, path: Path, metadata: dict[str, str]
) -> None:
    """``torch.jit.trace`` of the predictor, saved with the metadata as extra files (``<key>``)."""
    with torch.no_grad():
        traced = torch.jit.trace(predictor, (example,), check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={key: value.encode() for key, value in metadata.items()})


@hydra.main(version_base="1.3", config_path=utils.CONFIG_PATH, config_name="export")
@utils.entry_point("export")
def main(cfg: DictConfig) -> None:
    """Console script ``lit-heatmap-export``."""
    utils.extras(cfg)
    export(cfg)


if __name__ == "__main__":
    main()
