"""CocoKeypoints, WFLW and CocoFormat on the real-format samples (tests/conftest.py) and generated files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lit_heatmap.data import (
    WFLW,
    CocoFormat,
    CocoKeypoints,
    KeypointTransform,
    apply_affine,
    collate,
)
from lit_heatmap.facts import COCO_SIGMAS


def COCO_TRAIN() -> KeypointTransform:
    """conf/dataset/coco.yaml's train recipe (HRNet / MMPose)."""
    return KeypointTransform(
        (192, 256), train=True, rotation=40.0, shift_factor=0.16, shift_prob=0.3, half_body_prob=0.3
    )


DET = "person_detection_results/COCO_val2017_detections_AP_H_56_person.json"


def _round_trip_error(ds) -> float:
    worst = 0.0
    for i in range(len(ds)):
        s = ds[i]
        lab = s["orig_visibility"].numpy() > 0
        back = apply_affine(s["keypoints"].double().numpy(), s["affine"].double().numpy())
        err = np.abs(back - s["orig_keypoints"].double().numpy())[lab]
        worst = max(worst, float(err.max()))
        # orig_keypoints are the annotation itself
        np.testing.assert_allclose(s["orig_keypoints"].numpy(), ds.records[i].keypoints, atol=1e-3)
    return worst


def test_coco_gt_instances_and_round_trip(coco_root: Path) -> None:
    ds = CocoKeypoints(coco_root, split="val2017")
    # 14 annotations in the sample, 2 with num_keypoints == 0 are left out
    assert len(ds) == 12
    assert ds.meta.num_keypoints == 17 and ds.meta.sigmas == list(COCO_SIGMAS)
    assert ds.meta.skeleton[0] == (15, 13)  # official [16, 14], 0-based
    assert _round_trip_error(ds) < 0.01
    assert len(list(iter(ds))) == 12  # plain iteration stops (IndexError past the end)
    s = ds[0]
    assert s["image"].shape == (3, 256, 192)
    assert s["image_id"].item() == 785 and s["score"].item() == 1.0
    assert s["area"].item() == pytest.approx(27789.11055)
    torch.testing.assert_close(s["bbox"], torch.tensor([280.79, 44.73, 218.7, 346.68]))
    assert s["norm"].item() == pytest.approx(346.68, rel=1e-6)


def test_coco_crop_centres_the_box(coco_root: Path) -> None:
    """The box centre lands on the input centre; the (aspect-fixed, 1.25x) box spans the input."""
    ds = CocoKeypoints(coco_root, input_size=(192, 256))
    s = ds[0]
    x, y, w, h = s["bbox"].double().numpy()
    a = s["affine"].double().numpy()
    np.testing.assert_allclose(apply_affine(np.array([[95.5, 127.5]]), a), [[x + w / 2, y + h / 2]], atol=1e-3)
    # 218.7 x 346.68 is taller than 3:4 -> crop height 1.25 * 346.68 over 256 px
    np.testing.assert_allclose(a[1, 1], 1.25 * 346.68 / 256, rtol=1e-5)


def test_coco_detections_with_threshold(coco_root: Path) -> None:
    det = coco_root / DET
    all_dets = json.loads(det.read_text())
    ds = CocoKeypoints(coco_root, det_file=det, det_score_threshold=0.3)
    assert len(ds) == sum(d["score"] >= 0.3 for d in all_dets)
    s = ds[0]
    assert s["orig_visibility"].sum() == 0 and s["visibility"].sum() == 0
    scores = sorted(float(ds[i]["score"]) for i in range(len(ds)))
    assert scores[0] >= 0.3
    gt = ds.ground_truth()
    assert {i["id"] for i in gt["images"]} == {785, 40083, 196141, 197388}
    assert len(gt["annotations"]) == 14 and len(gt["annotations"][0]["keypoints"]) == 17 * 3


def test_coco_flip_keeps_left_labels(coco_root: Path) -> None:
    """Annotation 442619 faces the camera (left shoulder at larger x). With flip on, the keypoint
    labelled left_shoulder is still the one at larger x in the flipped crop, and it sits at the
    mirror image of where the unflipped crop has right_shoulder."""
    plain = CocoKeypoints(coco_root, transform=COCO_TRAIN())
    flip = CocoKeypoints(coco_root, transform=COCO_TRAIN())
    for ds, p in ((plain, 0.0), (flip, 1.0)):
        t = ds.transform
        t.flip_prob, t.rotation, t.scale_factor, t.shift_prob, t.half_body_prob = p, 0.0, 0.0, 0.0, 0.0
    a, b = plain[0], flip[0]
    assert not a["flipped"] and b["flipped"]
    ls, rs = 5, 6
    assert a["keypoints"][ls, 0] > a["keypoints"][rs, 0]
    assert b["keypoints"][ls, 0] > b["keypoints"][rs, 0]
    assert b["keypoints"][ls, 0].item() == pytest.approx(191 - a["keypoints"][rs, 0].item(), abs=1e-3)
    back = apply_affine(b["keypoints"].double().numpy(), b["affine"].double().numpy())
    np.testing.assert_allclose(back, b["orig_keypoints"].double().numpy(), atol=0.01)


def test_coco_augmented_batch_keeps_visibility_rule(coco_root: Path) -> None:
    ds = CocoKeypoints(coco_root, transform=COCO_TRAIN())
    torch.manual_seed(0)
    batch = collate([ds[i] for i in range(len(ds))])
    k, v = batch["keypoints"], batch["visibility"]
    inside = (k[..., 0] >= -0.5) & (k[..., 0] <= 191.5) & (k[..., 1] >= -0.5) & (k[..., 1] <= 255.5)
    assert torch.equal(v > 0, inside & (batch["orig_visibility"] > 0))
    assert k.shape == (12, 17, 2)


def test_wflw_round_trip_norm_attributes(wflw_root: Path) -> None:
    ds = WFLW(wflw_root, split="test")
    assert len(ds) == 4 and ds.meta.num_keypoints == 98
    assert _round_trip_error(ds) < 0.01
    s = ds[0]
    assert s["image"].shape == (3, 256, 256)
    lms = ds.records[0].keypoints
    assert s["norm"].item() == pytest.approx(float(np.linalg.norm(lms[60] - lms[72])), rel=1e-6)
    assert s["attributes"].shape == (6,) and s["attributes"].dtype == torch.bool
    assert not s["attributes"].any()  # the sample's flags are all 0
    assert s["image_id"].item() == 1  # line number


def test_wflw_generated_attributes_and_flip(make_wflw) -> None:
    root = make_wflw()
    ds = WFLW(root, split="train", transform=KeypointTransform((256, 256), train=True, rotation=30.0))
    s = ds[0]
    assert s["attributes"].tolist() == [True, False, False, True, False, True]
    t = ds.transform
    t.flip_prob, t.rotation, t.scale_factor = 1.0, 0.0, 0.0
    f = ds[0]
    assert f["flipped"]
    # landmark 60 (the image-left eye corner) is swapped with 72: after the flip, channel 60 holds
    # the mirror of the old 72, so it is again on the left of channel 72
    assert f["keypoints"][60, 0] < f["keypoints"][72, 0]
    torch.testing.assert_close(
        f["orig_keypoints"][60], torch.as_tensor(ds.records[0].keypoints[72], dtype=torch.float32)
    )


def test_coco_format_names_flip_sigmas_split(make_coco, tmp_path: Path) -> None:
    cat = {
        "id": 3,
        "name": "lizard",
        "keypoints": ["snout", "front_left_foot", "front_right_foot", "tail"],
        "skeleton": [[1, 2], [1, 3], [1, 4]],
    }
    anns = [
        {
            "id": i,
            "image_id": 1 + i % 4,
            "category_id": 3,
            "num_keypoints": 4,
            "iscrowd": 0,
            "keypoints": [50, 40, 2, 60, 50, 2, 40, 50, 1, 50, 80, 2],
            "bbox": [35, 35, 30, 50],
            "area": 900,
        }
        for i in range(8)
    ]
    ann = make_coco(anns, n_images=4, categories=[cat])
    ds = CocoFormat(ann, img_dir=tmp_path / "images")
    assert len(ds) == 8 and ds.meta.name == "lizard"
    assert ds.meta.keypoint_names[1] == "front_left_foot" and ds.meta.skeleton == [(0, 1), (0, 2), (0, 3)]
    assert ds.meta.flip_index == [0, 2, 1, 3] and ds.meta.sigmas == [0.05] * 4
    ds2 = CocoFormat(ann, img_dir=tmp_path / "images", flip_pairs=[[0, 3]], sigmas=[0.1, 0.2, 0.2, 0.3])
    assert ds2.meta.flip_index == [3, 1, 2, 0] and ds2.meta.sigmas == [0.1, 0.2, 0.2, 0.3]
    tr = CocoFormat(ann, img_dir=tmp_path / "images", split="train", val_fraction=0.25)
    va = CocoFormat(None, img_dir=tmp_path / "images", split="val", val_fraction=0.25, train_ann_file=ann)
    tr_ids, va_ids = {r.image_id for r in tr.records}, {r.image_id for r in va.records}
    assert len(va_ids) == 1 and len(tr_ids) == 3 and not tr_ids & va_ids
    assert len(tr) + len(va) == 8
    assert _round_trip_error(va) < 0.01
    with pytest.raises(ValueError, match="sigmas has 2 entries"):
        CocoFormat(ann, img_dir=tmp_path / "images", sigmas=[0.1, 0.2])
    with pytest.raises(ValueError, match="dataset.val_ann=.*dataset.val_fraction="):
        CocoFormat(None, img_dir=tmp_path / "images", split="val", train_ann_file=ann)


def test_coco_format_on_real_coco_file(coco_root: Path) -> None:
    ds = CocoFormat(coco_root / "annotations" / "person_keypoints_val2017.json", img_dir=coco_root / "val2017")
    assert len(ds) == 12 and ds.meta.sigmas == list(COCO_SIGMAS)
    assert ds.meta.flip_index == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_coco_ground_truth_feeds_the_evaluator(coco_root: Path) -> None:
    """`ground_truth()` is what the evaluator scores against: the GT crops' own keypoints as predictions
    score AP 1 (crowd and zero-keypoint annotations are ignored by COCOeval, not missed)."""
    from lit_heatmap.metrics import KeypointAP, KeypointEvaluator

    ds = CocoKeypoints(coco_root)
    evaluator = KeypointEvaluator({"AP": KeypointAP()}, 17)
    evaluator.set_ground_truth(ds.ground_truth())
    batch = torch.utils.data.default_collate(
        [{k: v for k, v in ds[i].items() if k != "image_path"} for i in range(len(ds))]
    )
    evaluator.update(batch["orig_keypoints"], torch.ones(len(ds), 17), batch)
    assert float(evaluator.compute()["AP"]) == pytest.approx(1.0)


def test_datamodule_ground_truth_with_detected_boxes(coco_root: Path) -> None:
    from lit_heatmap.data import KeypointDataModule

    det = CocoKeypoints(coco_root, det_file=coco_root / DET, det_score_threshold=0.99)
    dm = KeypointDataModule(det, det, num_workers=0)
    gt = dm.ground_truth("val")
    # every image of the annotation file, also those whose detections were all filtered out, and every
    # annotation, the zero-keypoint ones included (14 in the sample)
    assert [i["id"] for i in gt["images"]] == [785, 40083, 196141, 197388] and len(gt["annotations"]) == 14
    assert sum(a["image_id"] == 196141 for a in gt["annotations"]) == 5  # 508900 has no keypoints
