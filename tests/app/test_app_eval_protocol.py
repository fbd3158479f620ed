"""The evaluation protocol through the CLI on a generated COCO-format project: eval with only
``val_ann``, ``category_id`` in results.json, partial validation epochs, predict on messy folders."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from lit_heatmap.eval import evaluate
from lit_heatmap.predict import predict
from lit_heatmap.train import train
from tests.app.test_app_datasets import write_coco_format

FAST = [
    "dataset.num_workers=0",
    "dataset.batch_size=2",
    "dataset.input_size=[64,64]",
    "backbone.name=regnetx_002",
    "+trainer.enable_progress_bar=false",
    "trainer.max_epochs=1",
    "extras.print_config=false",
    "logger=csv",
]


@pytest.fixture
def tools(make_cfg, tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint trained on the 'tool' category (id 7) and its annotation file."""
    ann = write_coco_format(tmp_path / "data")
    cfg = make_cfg(
        [
            "dataset=coco_format",
            f"dataset.train_ann={ann}",
            "dataset.val_fraction=0.34",
            f"dataset.img_dir={tmp_path / 'data' / 'imgs'}",
            *FAST,
        ],
        tiny=False,
        out=tmp_path / "train",
    )
    _, objects = train(cfg)
    return Path(objects["best_model_path"]), ann


def test_eval_with_only_val_ann_and_results_category(make_cfg, tools, tmp_path: Path) -> None:
    ckpt, ann = tools
    cfg = make_cfg(
        [
            "dataset=coco_format",
            f"ckpt_path={ckpt}",
            f"dataset.val_ann={ann}",
            f"dataset.img_dir={ann.parent / 'imgs'}",
            "dataset.num_workers=0",
            "+trainer.enable_progress_bar=false",
        ],
        config_name="eval",
        out=tmp_path / "eval",
    )
    assert cfg.dataset.train_ann is None
    metrics = evaluate(cfg)
    assert 0.0 <= metrics["val/AP"] <= 1.0 and "val/PCK@0.05" in metrics
    out = tmp_path / "pred"
    predict(
        make_cfg([f"ckpt_path={ckpt}", f"input={ann.parent / 'imgs'}", f"output={out}"], config_name="predict", out=out)
    )
    results = json.loads((out / "results.json").read_text())
    assert len(results) == 6 and {r["category_id"] for r in results} == {7}
    assert all(len(r["keypoints"]) == 9 for r in results)


def test_partial_validation_scores_the_images_seen(make_cfg, tmp_path: Path, caplog) -> None:
    """``limit_val_batches < 1``: AP over the images seen (numerics: test_metrics_evaluator), said once."""
    from lightning.pytorch import Trainer

    ann = write_coco_format(tmp_path / "data", n_images=8)
    common = [
        "dataset=coco_format",
        f"dataset.train_ann={ann}",
        f"dataset.val_ann={ann}",
        f"dataset.img_dir={tmp_path / 'data' / 'imgs'}",
        *FAST,
    ]
    _, full = train(make_cfg([*common, "+trainer.limit_train_batches=1"], tiny=False, out=tmp_path / "a"))
    gt = full["datamodule"].ground_truth("val")
    assert {a["image_id"] for a in gt["annotations"]} == set(range(1, 9))
    half = Trainer(
        accelerator="cpu", limit_val_batches=0.5, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    caplog.clear()
    with caplog.at_level("INFO"):
        out = half.validate(full["model"], datamodule=full["datamodule"], verbose=False)[0]
    said = caplog.text.count("val/AP is scored on the images of the 2 of 4 batches seen")
    assert said == 1 and 0.0 <= out["val/AP"] <= 1.0
    caplog.clear()
    with caplog.at_level("INFO"):
        Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False).validate(
            full["model"], datamodule=full["datamodule"], verbose=False
        )
    assert "is scored on the images" not in caplog.text  # a whole epoch: every image of the file


def test_predict_messy_folder(make_cfg, tools, tmp_path: Path, capsys) -> None:
    """Unreadable images are named and counted, ``a.jpg``/``a.png`` overlays do not collide, writing
    overlays into the input folder never overwrites an input, image ids follow one scheme."""
    ckpt, _ = tools
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "a.png", "b.png"):
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    predict(
        make_cfg(
            [f"ckpt_path={ckpt}", f"input={folder}", f"output={folder}"], config_name="predict", out=tmp_path / "p"
        )
    )
    text = capsys.readouterr().out
    assert "broken.png" in text and "(1 unreadable)" in text
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    overlays = sorted(p.name for p in (folder / "overlays").iterdir())
    assert overlays == ["a.jpg.png", "a.png.png", "b.png.png"]
    results = json.loads((folder / "results.json").read_text())
    assert sorted(r["file_name"] for r in results) == ["a.jpg", "a.png", "b.png"]
    ids = [r["image_id"] for r in results]
    assert len(set(ids)) == 3 and all(isinstance(i, int) for i in ids)
