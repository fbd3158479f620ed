"""``dataset=dlc`` end to end: the composed config (trainer keys overridable without '+', max_time ->
max_epochs -1), then lit-heatmap-train / -eval / -predict in-process on a tiny DeepLabCut project."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import hydra
import pytest
import torch

from lit_heatmap.eval import evaluate
from lit_heatmap.predict import predict
from lit_heatmap.train import train
from lit_heatmap.utils import ConfigCompatibilityError
from tests.app.app_helpers import TINY_MODEL, TINY_TRAIN
from tests.data.test_data_dlc_project import NAMES, frame, label_csv, single_project, single_rows


def dlc(root: Path) -> list[str]:
    """dataset=dlc on ``root``: 8 frames, val_fraction 0.25 -> 6 train frames (2 batches of 3), 2 val frames."""
    return [
        "dataset=dlc",
        f"dataset.root={root}",
        "dataset.num_workers=0",
        "dataset.batch_size=3",
        "dataset.val_fraction=0.25",
    ]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A single-animal DeepLabCut project of 8 640x480 frames (snout, leftear, rightear, tailbase)."""
    return single_project(tmp_path / "openfield", w=640, h=480)


def test_dlc_config_composes(make_cfg, project: Path) -> None:
    cfg = make_cfg([*dlc(project), *TINY_MODEL], tiny=False)
    assert cfg.dataset.name == "dlc" and cfg.dataset.root == str(project)
    assert cfg.dataset.input_size is None and cfg.dataset.padding is None and cfg.dataset.flip_pairs is None
    assert cfg.trainer.max_time is None and cfg.trainer.max_epochs == 3 and cfg.trainer.max_steps == -1
    dm = hydra.utils.instantiate(cfg.dataset.datamodule)
    meta = dm.meta
    assert meta.keypoint_names == NAMES and meta.flip_index == [0, 2, 1, 3]
    assert meta.input_size == (320, 256) and meta.padding == 1.0
    assert len(dm.train_dataset) == 6 and len(dm.val_dataset) == 2
    assert dm.train_dataset.transform.train and not dm.val_dataset.transform.train
    assert dm.val_dataset.transform.input_size == (320, 256)
    # dataset.augment=false: the train split is only cropped
    cfg = make_cfg([*dlc(project), "dataset.augment=false"], tiny=False)
    assert not hydra.utils.instantiate(cfg.dataset.datamodule).train_dataset.transform.train


def test_trainer_keys_override_without_plus(make_cfg, project: Path) -> None:
    cfg = make_cfg([*dlc(project), "trainer.max_time=00:00:10:00"], tiny=False)
    assert cfg.trainer.max_time == "00:00:10:00" and cfg.trainer.max_epochs == -1
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[], enable_progress_bar=False)
    assert trainer.max_epochs == -1
    # an explicit max_epochs still wins over the max_time default
    cfg = make_cfg([*dlc(project), "trainer.max_time=00:00:10:00", "trainer.max_epochs=7"], tiny=False)
    assert cfg.trainer.max_epochs == 7
    cfg = make_cfg(
        [
            *dlc(project),
            "trainer.max_steps=50",
            "trainer.val_check_interval=5",
            "trainer.accumulate_grad_batches=2",
            "trainer.gradient_clip_val=1.0",
        ],
        tiny=False,
    )
    t = cfg.trainer
    assert (t.max_steps, t.val_check_interval, t.accumulate_grad_batches, t.gradient_clip_val) == (50, 5, 2, 1.0)
    assert t.max_epochs == 3 and t.max_time is None
    trainer = hydra.utils.instantiate(t, logger=False, callbacks=[], enable_progress_bar=False)
    assert trainer.max_steps == 50 and trainer.accumulate_grad_batches == 2 and trainer.gradient_clip_val == 1.0


def test_train_eval_predict_on_a_dlc_project(make_cfg, project: Path, tmp_path: Path) -> None:
    cfg = make_cfg([*dlc(project), *TINY_MODEL, *TINY_TRAIN], tiny=False, out=tmp_path / "train")
    assert cfg.trainer.max_epochs == 1
    metrics, objects = train(cfg)
    assert objects["trainer"].global_step == 2  # 6 train frames, batches of 3
    assert objects["meta"].input_size == (320, 256)
    best = Path(objects["best_model_path"])
    assert best.is_file() and best.parent == tmp_path / "train" / "checkpoints"
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    meta = ckpt["hyper_parameters"]["meta"]
    assert meta["name"] == "openfield" and meta["keypoint_names"] == NAMES
    assert list(meta["input_size"]) == [320, 256] and list(meta["flip_index"]) == [0, 2, 1, 3]
    assert [list(e) for e in meta["skeleton"]] == [[0, 1], [0, 2], [3, 0]]
    epe = metrics["val/EPE"]
    assert math.isfinite(epe) and epe >= 0 and 0.0 <= metrics["val/PCK@0.05"] <= 1.0

    # lit-heatmap-eval on the same val frames reproduces the training's validation
    cfg = make_cfg(
        [f"ckpt_path={best}", *dlc(project), "+trainer.enable_progress_bar=false"],
        config_name="eval",
        out=tmp_path / "eval",
    )
    ev = evaluate(cfg)
    assert ev["val/EPE"] == pytest.approx(epe, rel=1e-4, abs=1e-3)
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["split"] == "val" and written["metrics"]["val/EPE"] == pytest.approx(ev["val/EPE"])

    # lit-heatmap-predict on a folder of two frames: one whole-frame instance per image, K keypoints
    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("img000.png", "img001.png"):
        shutil.copy(project / "labeled-data" / "vid1" / name, frames / name)
    cfg = make_cfg(
        [f"ckpt_path={best}", f"input={frames}", f"output={tmp_path / 'pred'}"],
        config_name="predict",
        out=tmp_path / "p",
    )
    results = predict(cfg)
    on_disk = json.loads((tmp_path / "pred" / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert sorted(r["file_name"] for r in on_disk) == ["img000.png", "img001.png"]
    for r in on_disk:
        assert len(r["keypoints"]) == 3 * len(NAMES) and r["bbox"] == [0.0, 0.0, 640.0, 480.0]
        assert all(math.isfinite(v) for v in r["keypoints"])
    assert len(list((tmp_path / "pred" / "overlays").glob("*.png"))) == 2


def test_split_json_and_eval_checks_names(make_cfg, project: Path, tmp_path: Path, capsys) -> None:
    """Every run writes split.json; eval reuses the run's split; names are remapped or refused (issue 19, 3 and 4)."""
    cfg = make_cfg([*dlc(project), *TINY_MODEL, *TINY_TRAIN], tiny=False, out=tmp_path / "train")
    metrics, objects = train(cfg)
    best = Path(objects["best_model_path"])
    split = json.loads((tmp_path / "train" / "split.json").read_text())
    frames = [f"labeled-data/vid1/img{i:03d}.png" for i in range(8)]
    assert sorted(split["train"] + split["val"]) == frames and len(split["val"]) == 2

    def evaluate_on(root: Path, *extra: str) -> dict[str, float]:
        over = [f"ckpt_path={best}", *dlc(root), "+trainer.enable_progress_bar=false", *extra]
        return evaluate(make_cfg(over, config_name="eval", out=tmp_path / "eval"))

    # eval takes the run's split.json: frames labelled since then do not join the val set
    more = project / "labeled-data" / "vid2"
    rows = [(f"labeled-data/vid2/img{i:03d}.png", [10 + i, 20, 5, 6, 7.25, 8, 40, 30 + i]) for i in range(6)]
    for rel, _ in rows:
        frame(project / rel, 640, 480)
    label_csv(more / "CollectedData_Alice.csv", NAMES, rows)
    capsys.readouterr()
    ev = evaluate_on(project)
    assert f"dataset.split_file={tmp_path / 'train' / 'split.json'}" in capsys.readouterr().out
    assert ev["val/EPE"] == pytest.approx(metrics["val/EPE"], rel=1e-4, abs=1e-3)

    # the same labels with the CSV columns in another order: remapped by name, same score, said once
    order = [3, 1, 2, 0]  # tailbase, leftear, rightear, snout
    swapped = tmp_path / "swapped"
    shutil.copytree(project, swapped)
    shutil.rmtree(swapped / "labeled-data" / "vid2")
    rows = [(rel, [c for k in order for c in cells[2 * k : 2 * k + 2]]) for rel, cells in single_rows(8)]
    label_csv(swapped / "labeled-data" / "vid1" / "CollectedData_Alice.csv", [NAMES[k] for k in order], rows)
    capsys.readouterr()
    ev = evaluate_on(swapped)
    assert capsys.readouterr().out.count("remapped by name to the checkpoint's order") == 1
    assert ev["val/EPE"] == pytest.approx(metrics["val/EPE"], rel=1e-4, abs=1e-3)

    # other names: refused, with both lists
    label_csv(swapped / "labeled-data" / "vid1" / "CollectedData_Alice.csv", [*NAMES[:3], "tail"], single_rows(8))
    with pytest.raises(ConfigCompatibilityError, match=r"\['snout', 'leftear', 'rightear', 'tailbase'\].*'tail'\]"):
        evaluate_on(swapped)
