"""lit-heatmap-eval and lit-heatmap-predict on a checkpoint trained here; W&B offline files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from omegaconf import open_dict

from lit_heatmap.eval import evaluate
from lit_heatmap.predict import predict
from lit_heatmap.train import train

DETECTIONS = "COCO_val2017_detections_AP_H_56_person.json"


@pytest.fixture
def trained(make_cfg, tmp_path: Path) -> tuple[Path, float]:
    """A 1-epoch tiny synthetic checkpoint and the val/PCK@0.05 its checkpoint callback recorded."""
    cfg = make_cfg([], out=tmp_path / "train")
    _, objects = train(cfg)
    best = Path(objects["best_model_path"])
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    score = next(
        v["best_model_score"]
        for k, v in ckpt["callbacks"].items()
        if "ModelCheckpoint" in k and v.get("best_model_score") is not None
    )
    return best, float(score)


def test_eval_reproduces_the_training_validation(make_cfg, trained, tmp_path: Path) -> None:
    ckpt, score = trained
    cfg = make_cfg(
        [
            f"ckpt_path={ckpt}",
            "dataset.val_size=16",
            "dataset.batch_size=8",
            "dataset.num_workers=0",
            "+trainer.limit_val_batches=1",
            "+trainer.enable_progress_bar=false",
        ],
        config_name="eval",
        out=tmp_path / "eval",
    )
    # the dataset config says 128x128; the checkpoint's 64x64 wins
    assert list(cfg.dataset.input_size) == [128, 128]
    metrics = evaluate(cfg)
    assert metrics["val/PCK@0.05"] == pytest.approx(score, abs=1e-6)
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["metrics"]["val/PCK@0.05"] == pytest.approx(score, abs=1e-6) and written["split"] == "val"
    # the predictions behind them: one COCO result per instance of the one val batch (8 people)
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert len(results) == 8 and all(len(r["keypoints"]) == 3 * 14 and len(r["bbox"]) == 4 for r in results)


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)


def test_predict_whole_image_and_boxes_agree_in_original_pixels(make_cfg, trained, tmp_path: Path) -> None:
    """The same pixels cropped from two images, at offsets 0 and (50, 30): the predicted keypoints
    (original image pixels) differ by exactly that offset; results.json and overlays are written."""
    ckpt, _ = trained
    img = _image(90, 70)
    canvas = np.zeros((140, 130, 3), np.uint8)
    canvas[30:120, 50:120] = img
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(), b_dir.mkdir()
    cv2.imwrite(str(a_dir / "photo.png"), img[:, :, ::-1])
    cv2.imwrite(str(b_dir / "000000000042.png"), canvas[:, :, ::-1])
    boxes = tmp_path / "boxes.json"
    boxes.write_text(
        json.dumps(
            [
                {"image_id": 42, "bbox": [50, 30, 70, 90], "score": 0.9},
                {"image_id": 42, "bbox": [0, 0, 10, 10], "score": 0.1},
            ]
        )
    )

    cfg = make_cfg(
        [f"ckpt_path={ckpt}", f"input={a_dir / 'photo.png'}", f"output={tmp_path / 'out_a'}"],
        config_name="predict",
        out=tmp_path / "pa",
    )
    res_a = predict(cfg)
    cfg = make_cfg(
        [
            f"ckpt_path={ckpt}",
            f"input={b_dir}",
            f"output={tmp_path / 'out_b'}",
            f"boxes={boxes}",
            "box_score_threshold=0.5",
            "box_padding=1.0",
            "draw_threshold=-1",
        ],
        config_name="predict",
        out=tmp_path / "pb",
    )
    res_b = predict(cfg)

    assert len(res_a) == 1 and len(res_b) == 1  # the weak box was dropped
    a, b = np.array(res_a[0]["keypoints"]).reshape(-1, 3), np.array(res_b[0]["keypoints"]).reshape(-1, 3)
    assert a.shape == (14, 3)
    np.testing.assert_allclose(b[:, :2] - a[:, :2], np.tile([50.0, 30.0], (14, 1)), atol=2e-3)
    np.testing.assert_allclose(b[:, 2], a[:, 2], atol=1e-5)
    assert res_b[0]["image_id"] == 42 and res_b[0]["bbox"] == [50.0, 30.0, 70.0, 90.0]
    assert res_a[0]["file_name"] == "photo.png" and res_a[0]["bbox"] == [0.0, 0.0, 70.0, 90.0]
    on_disk = json.loads((tmp_path / "out_b" / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(res_b))
    overlay = cv2.imread(str(tmp_path / "out_b" / "overlays" / "000000000042.png.png"))
    assert overlay.shape == canvas.shape and not np.array_equal(overlay[:, :, ::-1], canvas)


def test_predict_coco_images_with_detections(make_cfg, trained, tmp_path: Path, coco_root: Path) -> None:
    ckpt, _ = trained
    det = coco_root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json"
    cfg = make_cfg(
        [
            f"ckpt_path={ckpt}",
            f"input={coco_root / 'val2017'}",
            f"output={tmp_path / 'out'}",
            f"boxes={det}",
            "box_score_threshold=0.3",
            "nms_threshold=null",
        ],
        config_name="predict",
        out=tmp_path / "p",
    )
    results = predict(cfg)
    ids = {int(p.stem) for p in (coco_root / "val2017").glob("*.jpg")}
    expected = [d for d in json.loads(det.read_text()) if d["image_id"] in ids and d["score"] >= 0.3]
    assert len(results) == len(expected) > 0
    assert sorted(r["image_id"] for r in results) == sorted(d["image_id"] for d in expected)
    assert len(list((tmp_path / "out" / "overlays").glob("*.jpg.png"))) == len(ids)


def test_wandb_offline_run_files(make_cfg, tmp_path: Path) -> None:
    import wandb

    # 2 epochs of 2 steps, validated after each (the default cadence would validate once, at the end)
    cadence = ["trainer.val_check_interval=2", "callbacks.run_schedule.min_seconds=0"]
    cfg = make_cfg(["logger=wandb", "trainer.max_epochs=2", *cadence], out=tmp_path)
    train(cfg)
    assert wandb.run is None  # closed, so the next multirun job starts its own run
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    files = runs[0] / "files"
    (log,) = runs[0].glob("run-*.wandb")
    # offline, the config and the history live in the run's log (synced later by `wandb sync`); wandb's
    # service process may still be writing it when finish() returns on a busy machine: wait for it
    deadline, data = time.monotonic() + 60, b""
    while time.monotonic() < deadline and not (b"val/heatmaps" in data and b"MultiScaleHeatmapHead" in data):
        time.sleep(0.5)
        data = log.read_bytes()
    assert b"regnetx_002" in data and b"lit_heatmap.models.MultiScaleHeatmapHead" in data  # resolved config
    assert b"val/PCK@0.05" in data and b"val/overlays" in data and b"val/heatmaps" in data
    images = sorted(p.relative_to(files).as_posix() for p in (files / "media" / "images").rglob("*.png"))
    overlays = [p for p in images if "overlays" in p]
    heatmaps = [p for p in images if "heatmaps" in p]
    assert len(overlays) == 2 * 8 and len(heatmaps) == 2 * 2  # 2 validation epochs


def test_eval_coco_detected_boxes_matches_pycocotools(make_cfg, tmp_path: Path, coco_root: Path) -> None:
    """COCO AP with detected boxes, every detection of one image removed: lit-heatmap-eval's 10 numbers
    equal pycocotools' COCOeval on the results.json eval writes beside metrics.json, and on the results
    JSON that lit-heatmap-predict writes for the same checkpoint and boxes (after rescoring and OKS-NMS),
    over EVERY image id of the annotation file: the people of the image without detections count as misses."""
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cfg = make_cfg(
        [
            "dataset=coco",
            f"dataset.root={coco_root}",
            "dataset.train_split=val2017",
            "dataset.input_size=[48,64]",
            "dataset.num_workers=0",
            "dataset.batch_size=4",
            "+trainer.limit_train_batches=2",
            "~logger",
        ],
        tiny=False,
        out=tmp_path / "train",
    )
    with open_dict(cfg):
        cfg.trainer.max_epochs, cfg.trainer.enable_progress_bar, cfg.extras.print_config = 1, False, False
    _, objects = train(cfg)
    ckpt = Path(objects["best_model_path"])

    all_dets = json.loads((coco_root / "person_detection_results" / DETECTIONS).read_text())
    det = tmp_path / "detections_without_785.json"
    det.write_text(json.dumps([d for d in all_dets if d["image_id"] != 785]))
    cfg = make_cfg(
        [
            f"ckpt_path={ckpt}",
            "dataset=coco",
            f"dataset.root={coco_root}",
            f"dataset.det_file={det}",
            "dataset.num_workers=0",
            "+trainer.enable_progress_bar=false",
        ],
        config_name="eval",
        out=tmp_path / "eval",
    )
    ours = evaluate(cfg)
    cfg = make_cfg(
        [f"ckpt_path={ckpt}", f"input={coco_root / 'val2017'}", f"output={tmp_path / 'pred'}", f"boxes={det}"],
        config_name="predict",
        out=tmp_path / "p",
    )
    results = predict(cfg)
    assert 0 < len(results) <= len(all_dets) - sum(d["image_id"] == 785 for d in all_dets)
    assert 785 not in {r["image_id"] for r in results}

    written = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert len(written) == len(results) and {r["image_id"] for r in written} == {r["image_id"] for r in results}
    assert all(len(r["keypoints"]) == 3 * 17 and len(r["bbox"]) == 4 and r["category_id"] == 1 for r in written)

    gt = COCO(str(coco_root / "annotations" / "person_keypoints_val2017.json"))
    names = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    for source in (written, results):
        dt = gt.loadRes([{k: r[k] for k in ("image_id", "category_id", "keypoints", "score")} for r in source])
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.imgIds = sorted(gt.getImgIds())  # all 4 images, 785 included
        ev.evaluate(), ev.accumulate(), ev.summarize()
        for name, ref in zip(names, ev.stats):
            assert ours[f"val/{name}"] == pytest.approx(float(ref), abs=1e-6), name
