"""lit-heatmap-export on a checkpoint trained here: plain-data checkpoints, ONNX / TorchScript graphs
that give the checkpoint's own keypoints (flip test included, batch 1 and 8), the metadata they carry,
lit-heatmap-predict from the ONNX file equal to predict from the checkpoint, and what export refuses.

Covered elsewhere, not repeated here: resuming from last.ckpt (weights_only loads, step continued) in
``test_app_cli.py::test_kill_and_resume``; DDP checkpoints loading with weights_only in
``test_app_cli.py::test_ddp_cpu_two_processes``; ``load_model`` refusing / trusting a pickled checkpoint
in ``tests/test_module.py``; ``check_exportable`` naming a decoder in ``tests/codecs/test_codec_compat.py``;
every encoding x decoder pair traced on its own in ``tests/codecs/test_codec_export.py``.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import hydra
import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from lit_heatmap.codecs import DarkDecoder, ExportError
from lit_heatmap.data import KeypointTransform, Synthetic, read_image
from lit_heatmap.export import export
from lit_heatmap.predict import predict
from lit_heatmap.train import train
from lit_heatmap.utils import CheckpointError, load_model
from tests.app.app_helpers import TINY, TINY_HEAD, cli, cli_env
from tests.app.conftest import compose_cfg

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

KP_TOL, SCORE_TOL = 0.01, 1e-4  # input px, score
SIZE = 64  # TINY_DATA's input size (w = h)
FORMATS = {"onnx": "onnx", "torchscript": "pt"}


class NotExportableDark(DarkDecoder):
    """A decoder that opts out of export (e.g. its decode calls ``.item()``)."""

    exportable = False


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny training run (synthetic, 64x64, regnetx_002 + multiscale_sum64 head, 1 epoch of 2 batches)."""
    out = tmp_path_factory.mktemp("train")
    try:
        _, objects = train(compose_cfg("train", [*TINY, *TINY_HEAD], out))
    finally:
        GlobalHydra.instance().clear()
    best = Path(objects["best_model_path"])
    return {"dir": out, "best": best, "ckpt": torch.load(best, map_location="cpu", weights_only=True)}


def _export(ckpt: Path, out: Path, fmt: str, flip: bool, *extra: str) -> Path:
    try:
        return export(
            compose_cfg(
                "export",
                [f"ckpt_path={ckpt}", f"format={fmt}", f"output={out}", f"flip_test={str(flip).lower()}", *extra],
                out.parent,
            )
        )
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    """The best checkpoint exported through ``export(cfg)`` (config ``export``, batch=dynamic) in both
    formats, without and with the flip test."""
    out = tmp_path_factory.mktemp("export")
    return {
        (fmt, flip): _export(run["best"], out / f"{fmt}_{flip}.{ext}", fmt, flip)
        for fmt, ext in FORMATS.items()
        for flip in (False, True)
    }


def synthetic_crops(n: int) -> torch.Tensor:
    """``n`` uint8 (3, 64, 64) val crops of the synthetic stick figures."""
    ds = Synthetic(
        num_samples=n, seed=3, split="val", transform=KeypointTransform(input_size=(SIZE, SIZE), padding=1.25)
    )
    return torch.stack([ds[i]["image"] for i in range(n)])


def coco_crops(coco_root: Path, n: int) -> torch.Tensor:
    """``n`` uint8 person crops of the COCO sample (annotated boxes with keypoints, resized to 64x64)."""
    data = json.loads((coco_root / "annotations" / "person_keypoints_val2017.json").read_text())
    files = {im["id"]: im["file_name"] for im in data["images"]}
    crops = []
    for ann in data["annotations"]:
        if ann["num_keypoints"] == 0:
            continue
        img = read_image(coco_root / "val2017" / files[ann["image_id"]])
        x, y, w, h = (int(round(v)) for v in ann["bbox"])
        crops.append(cv2.resize(img[y : y + h, x : x + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA))
    assert len(crops) >= n
    return torch.from_numpy(np.stack(crops[:n])).permute(0, 3, 1, 2).contiguous()


def assert_plain(value: Any, where: str = "hyper_parameters") -> None:
    """Only dict / list / tuple / str / int / float / bool / None, recursively (str keys)."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{where}: key {k!r}"
            assert_plain(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            assert_plain(v, f"{where}[{i}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), f"{where}: {type(value).__name__}"


def differences(got: tuple, ref: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    kp, score = (torch.as_tensor(np.asarray(g)) for g in got)
    assert kp.shape == ref[0].shape and score.shape == ref[1].shape
    assert kp.dtype == torch.float32 and score.dtype == torch.float32
    return float((kp - ref[0]).abs().max()), float((score - ref[1]).abs().max())


# ---------------------------------------------------------------------------------------------- checkpoints
def test_every_checkpoint_is_plain_data(run) -> None:
    """best and last.ckpt load with weights_only=True; hyper_parameters hold plain data only."""
    written = sorted((run["dir"] / "checkpoints").glob("*.ckpt"))
    assert run["best"] in written and run["dir"] / "checkpoints" / "last.ckpt" in written
    for path in written:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        assert ckpt["global_step"] == 2, path.name  # 1 epoch of 2 batches
        hp = ckpt["hyper_parameters"]
        assert_plain(hp)
        assert hp["decoder"]["_target_"].endswith("DarkDecoder") and hp["meta"]["input_size"] == [SIZE, SIZE]
        assert hp["backbone"]["name"] == "regnetx_002" and len(hp["meta"]["keypoint_names"]) == 14


# ---------------------------------------------------------------------------------------------- export
@pytest.mark.parametrize("source", ["synthetic", "coco"])
@pytest.mark.parametrize("flip", [False, True], ids=["plain", "flip"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_matches_the_checkpoint(run, exported, fmt: str, flip: bool, source: str, request) -> None:
    """The exported file run by onnxruntime / torch.jit at batch 1 and 8 (one file, dynamic batch) gives
    the keypoints and scores of the checkpoint's HeatmapModule in eager PyTorch (its own flip test and
    decode): <= 0.01 input px and <= 1e-4 score."""
    crops = synthetic_crops(8) if source == "synthetic" else coco_crops(request.getfixturevalue("coco_root"), 8)
    model = load_model(run["best"], flip_test=flip)
    path = exported[(fmt, flip)]
    if fmt == "onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (inp,) = session.get_inputs()
        assert inp.name == "images" and inp.type == "tensor(uint8)" and inp.shape == ["batch", 3, SIZE, SIZE]
        assert [o.name for o in session.get_outputs()] == ["keypoints", "scores"]
        graph = lambda x: session.run(["keypoints", "scores"], {"images": x.numpy()})  # noqa: E731
    else:
        graph = torch.jit.load(str(path))
    for x in (crops[:1], crops):
        with torch.inference_mode():
            ref = model.decode(model.predict_output(x))
            got = graph(x)
        assert ref[0].shape == (len(x), 14, 2)
        dk, ds = differences(got, ref)
        assert dk <= KP_TOL and ds <= SCORE_TOL, f"batch {len(x)}: {dk:.2e} px, {ds:.2e} score"
    if flip:  # the flipped pass is really in the graph: it changes the keypoints
        with torch.inference_mode():
            plain = load_model(run["best"]).decode(model(crops))[0]
        assert float((plain - ref[0]).abs().max()) > 10 * KP_TOL


def test_export_metadata_equals_the_checkpoint_meta(run, exported) -> None:
    """Names, skeleton, flip index, input size, mean/std and flip_test read back with the onnx package
    (metadata_props) and from the TorchScript extra files."""
    meta = run["ckpt"]["hyper_parameters"]["meta"]
    model = load_model(run["best"])
    for flip in (False, True):
        props = {p.key: p.value for p in onnx.load(str(exported[("onnx", flip)])).metadata_props}
        script = {key: "" for key in props}  # the extra files torch.jit.load fills in
        torch.jit.load(str(exported[("torchscript", flip)]), _extra_files=script)
        script = {k: v.decode() if isinstance(v, bytes) else v for k, v in script.items()}
        for got in (props, script):
            assert got == props  # the two formats carry the same metadata
            assert got["producer"] == "lit_heatmap"
            assert json.loads(got["keypoint_names"]) == meta["keypoint_names"]
            assert json.loads(got["skeleton"]) == [list(e) for e in meta["skeleton"]] and meta["skeleton"]
            assert json.loads(got["flip_index"]) == meta["flip_index"]
            assert json.loads(got["input_size"]) == [SIZE, SIZE] and got["dataset"] == "synthetic"
            assert json.loads(got["mean"]) == pytest.approx(model.pixel_mean.reshape(-1).tolist())
            assert json.loads(got["std"]) == pytest.approx(model.pixel_std.reshape(-1).tolist())
            assert json.loads(got["flip_test"]) is flip
            assert "DarkDecoder" in got["decoder"] and "pixel centres" in got["pixel_convention"]


# ---------------------------------------------------------------------------------------------- predict
def _synthetic_folder(folder: Path) -> Path:
    """Whole synthetic frames of various sizes as PNG files."""
    folder.mkdir()
    ds = Synthetic(num_samples=3, seed=5, split="val", transform=KeypointTransform(input_size=(96, 80), padding=1.25))
    for i in range(3):
        img = ds[i]["image"].permute(1, 2, 0).numpy()
        cv2.imwrite(str(folder / f"figure_{i}.png"), img[:, :, ::-1])
    return folder


@pytest.mark.parametrize("source", ["synthetic", "coco"])
def test_predict_from_onnx_equals_predict_from_checkpoint(run, exported, source: str, tmp_path: Path, request) -> None:
    """lit-heatmap-predict model=<onnx> and ckpt_path=<ckpt> on the same folder: the two results.json,
    matched by file name, agree within 0.01 input px (scaled to original px) and 1e-4 score."""
    folder = (
        _synthetic_folder(tmp_path / "images")
        if source == "synthetic"
        else request.getfixturevalue("coco_root") / "val2017"
    )
    results = {}
    for name, model in (("ckpt", f"ckpt_path={run['best']}"), ("onnx", f"model={exported[('onnx', False)]}")):
        try:
            predict(
                compose_cfg(
                    "predict",
                    [model, f"input={folder}", f"output={tmp_path / name}", "batch_size=2"],
                    tmp_path / f"p_{name}",
                )
            )
        finally:
            GlobalHydra.instance().clear()
        written = json.loads((tmp_path / name / "results.json").read_text())
        results[name] = {r["file_name"]: r for r in written}
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    assert sorted(results["ckpt"]) == sorted(results["onnx"]) == names
    for file_name, a in results["ckpt"].items():
        b = results["onnx"][file_name]
        assert a["image_id"] == b["image_id"] and a["bbox"] == b["bbox"]
        scale = max(a["bbox"][2], a["bbox"][3]) / SIZE  # original px per input px (whole image, padding 1)
        ka, kb = np.array(a["keypoints"]).reshape(-1, 3), np.array(b["keypoints"]).reshape(-1, 3)
        np.testing.assert_allclose(kb[:, :2], ka[:, :2], atol=KP_TOL * scale, rtol=0, err_msg=file_name)
        np.testing.assert_allclose(kb[:, 2], ka[:, 2], atol=SCORE_TOL, rtol=0, err_msg=file_name)
        assert b["score"] == pytest.approx(a["score"], abs=SCORE_TOL)


# ---------------------------------------------------------------------------------------------- refusals
def _legacy_checkpoint(ckpt: dict[str, Any], path: Path) -> Path:
    """``ckpt`` in the layout of older versions: parts as pickled partials and codec objects."""
    hp = ckpt["hyper_parameters"]
    part = functools.partial(hydra.utils.instantiate, _partial_=True)
    old = {
        "state_dict": {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("pixel_")},
        "hyper_parameters": {
            "backbone": part(hp["backbone"]),
            "head": part(hp["head"]),
            "encoding": hydra.utils.instantiate(hp["encoding"]),
            "decoder": hydra.utils.instantiate(hp["decoder"]),
            "loss": hydra.utils.instantiate(hp["loss"]),
            "optimizer": part(hp["optimizer"]),
            "num_keypoints": len(hp["meta"]["keypoint_names"]),
            "flip_index": hp["meta"]["flip_index"],
            "sigmas": hp["meta"]["sigmas"],
        },
        "dataset_meta": dict(hp["meta"]),
    }
    torch.save(old, path)
    return path


def test_export_of_a_pickled_checkpoint_needs_trust(run, exported, tmp_path: Path) -> None:
    """A checkpoint of an older version (pickled partials / objects) is refused by lit-heatmap-export
    with the trust message and no file written; with trust_checkpoint=true it is converted and exports
    the same graph (same keypoints) as the plain checkpoint."""
    legacy = _legacy_checkpoint(run["ckpt"], tmp_path / "old.ckpt")
    with pytest.raises(Exception):  # noqa: B017,PT011 - what torch raises itself: not plain data
        torch.load(legacy, weights_only=True)
    out = tmp_path / "old.onnx"
    with pytest.raises(CheckpointError, match="older version.*trust_checkpoint=true only if you trust its source"):
        _export(legacy, out, "onnx", False)
    assert not out.exists()
    _export(legacy, out, "onnx", False, "trust_checkpoint=true")
    crops = synthetic_crops(8)
    new = ort.InferenceSession(str(exported[("onnx", False)]), providers=["CPUExecutionProvider"])
    old = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (ka, sa), (kb, sb) = (s.run(None, {"images": crops.numpy()}) for s in (new, old))
    np.testing.assert_allclose(kb, ka, atol=KP_TOL, rtol=0)
    np.testing.assert_allclose(sb, sa, atol=SCORE_TOL, rtol=0)


def test_export_refuses_a_decoder_that_cannot_be_exported(run, tmp_path: Path) -> None:
    """A checkpoint whose decoder class says exportable = False: export names it and writes nothing."""
    ckpt = dict(run["ckpt"])
    hp = ckpt["hyper_parameters"] = dict(ckpt["hyper_parameters"])
    hp["decoder"] = {**hp["decoder"], "_target_": f"{__name__}.NotExportableDark"}
    path = tmp_path / "unexportable.ckpt"
    torch.save(ckpt, path)
    assert type(load_model(path).decoder) is NotExportableDark  # a valid model otherwise
    for fmt, ext in FORMATS.items():
        out = tmp_path / f"model.{ext}"
        with pytest.raises(ExportError, match="NotExportableDark cannot be exported to ONNX / TorchScript"):
            _export(path, out, fmt, False)
        assert not out.exists()


@pytest.mark.parametrize(("override", "message"), [("format=tflite", "format='tflite'"), ("batch=0", "batch=0")])
def test_export_rejects_unknown_format_and_batch(run, tmp_path: Path, override: str, message: str) -> None:
    key, value = override.split("=")
    overrides = {"format": "onnx", "batch": "dynamic", key: value}
    with pytest.raises(ValueError, match=message):
        try:
            export(
                compose_cfg(
                    "export",
                    [
                        f"ckpt_path={run['best']}",
                        f"output={tmp_path / 'm'}",
                        *(f"{k}={v}" for k, v in overrides.items()),
                    ],
                    tmp_path,
                )
            )
        finally:
            GlobalHydra.instance().clear()
    assert not (tmp_path / "m").exists()


# ---------------------------------------------------------------------------------------------- console script
@pytest.mark.slow
def test_console_script_fixed_batch_torchscript(run, tmp_path: Path) -> None:
    """``lit-heatmap-export`` in a subprocess, format=torchscript batch=4 flip_test=true: the file runs
    at batch 4 and gives the eager flip-test keypoints; the check line is printed."""
    out = tmp_path / "fixed.pt"
    res = subprocess.run(
        [
            cli("lit-heatmap-export"),
            f"ckpt_path={run['best']}",
            "format=torchscript",
            "batch=4",
            "flip_test=true",
            f"output={out}",
        ],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"lit-heatmap-export: {out} (torchscript, batch 4, flip_test True)" in res.stdout
    crops = synthetic_crops(4)
    model = load_model(run["best"], flip_test=True)
    with torch.inference_mode():
        dk, ds = differences(torch.jit.load(str(out))(crops), model.decode(model.predict_output(crops)))
    assert dk <= KP_TOL and ds <= SCORE_TOL
    shutil.rmtree(tmp_path / "logs", ignore_errors=True)
