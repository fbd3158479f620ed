"""HeatmapModule: construction checks, steps, logging names, flip test, predict, safe checkpoints."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from lit_heatmap.codecs import (
    ArgmaxDecoder,
    DarkDecoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    QuarterOffsetDecoder,
    SimCC,
    SoftArgmaxDecoder,
    flip_output,
)
from lit_heatmap.data import DatasetMeta
from lit_heatmap.data.geometry import to_original
from lit_heatmap.metrics import PCK, KeypointAP
from lit_heatmap.models import (
    Backbone,
    DeconvHeatmapHead,
    HybridHead,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SimCCHead,
)
from lit_heatmap.module import HeatmapModule
from lit_heatmap.nodes import node
from lit_heatmap.utils import CheckpointError, load_checkpoint, load_model
from tests.models.model_helpers import disc_images, make_batch

S, K = 64, 4
FLIP = [1, 0, 3, 2]
META = DatasetMeta("discs", K, ["left_a", "right_a", "left_b", "right_b"], [(0, 2)], FLIP, [0.05] * K, (S, S))
HM = node(Heatmap2D, input_size=None, sigma=2.0)
SC = node(SimCC, input_size=None, split_ratio=2.0, sigma=2.0)
HYBRID = node(Hybrid, heatmap=HM, simcc=SC)
PARTS = {
    "heatmap": {},
    "simcc": {
        "head": node(SimCCHead, in_index=-2),
        "encoding": SC,
        "decoder": node(SoftArgmaxDecoder, beta=10.0, window=6),
        "loss": node(KLDiscreteLoss),
    },
    "hybrid": {
        "head": node(HybridHead, simcc={"in_index": -2}),
        "encoding": HYBRID,
        "decoder": node(HybridDecoder),
        "loss": node(HybridLoss),
    },
}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one torch thread is as fast, and avoids OpenMP spin-waits on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def build(**kw) -> HeatmapModule:
    args = {
        "backbone": node(Backbone, name="test_resnet"),
        "head": node(DeconvHeatmapHead, deconv_channels=16),
        "encoding": HM,
        "decoder": node(DarkDecoder),
        "loss": node(KeypointMSELoss),
        "meta": META,
        "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 1e-3},
    }
    return HeatmapModule(**{**args, **kw})


def collate(samples):
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


def loader(n: int = 4) -> DataLoader:
    imgs, kps = disc_images(n, S, K)
    batch = make_batch(imgs, kps)
    samples = [{k: v[i] for k, v in batch.items()} for i in range(n)]
    return DataLoader(samples, batch_size=2, collate_fn=collate)


def trainer(tmp_path, **kw) -> L.Trainer:
    return L.Trainer(
        default_root_dir=tmp_path,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"head": node(SimCCHead)}, "SimCCHead cannot be trained with a Heatmap2D"),
        (
            {"encoding": SC, "decoder": node(SoftArgmaxDecoder), "loss": node(KLDiscreteLoss)},
            "DeconvHeatmapHead cannot be trained with a SimCC",
        ),
        (
            {
                "head": node(SimCCHead),
                "encoding": SC,
                "decoder": node(QuarterOffsetDecoder),
                "loss": node(KLDiscreteLoss),
            },
            "QuarterOffsetDecoder cannot decode the output of SimCC",
        ),
        (
            {"head": node(HybridHead), "encoding": HYBRID, "loss": node(HybridLoss)},
            "DarkDecoder cannot decode the output of Hybrid",
        ),
        ({"loss": node(KLDiscreteLoss)}, "KLDiscreteLoss cannot train a Heatmap2D"),
        ({"flip_test": True, "meta": {**vars(META), "flip_index": None}}, "flip index"),
        ({"encoding": node(Heatmap2D, input_size=[32, 32])}, r"encoding.input_size \[32, 32\] differs.*\[64, 64\]"),
    ],
)
def test_bad_combinations_fail_at_construction(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_parts_must_be_config_nodes_not_objects() -> None:
    with pytest.raises(TypeError, match="DarkDecoder is not plain data"):
        build(decoder=DarkDecoder())


def test_to_original_golden() -> None:
    affine = torch.tensor([[[2.0, 0.0, 10.0], [0.0, 3.0, -5.0]]])
    assert to_original(torch.tensor([[[1.0, 2.0]]]), affine).tolist() == [[[12.0, 1.0]]]


def test_forward_normalises_uint8_images_on_the_device() -> None:
    """The model takes raw uint8 RGB: (x - 255 * mean) / (255 * std) with its own buffers."""
    model = build(mean=[0.5, 0.25, 0.0], std=[0.5, 0.25, 1.0]).eval()
    seen = {}
    model.backbone.register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    image = torch.tensor([0, 64, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, S, S)
    with torch.no_grad():
        model(image)
    assert seen["x"][0, :, 0, 0].tolist() == pytest.approx([(0 - 127.5) / 127.5, (64 - 63.75) / 63.75, 255 / 255])
    assert model.state_dict()["pixel_mean"].reshape(-1).tolist() == pytest.approx([127.5, 63.75, 0.0])


def test_training_and_validation_log_the_contract_names(tmp_path) -> None:
    metrics = {"PCK@0.05": node(PCK, threshold=0.05), "AP": node(KeypointAP)}
    model = build(metrics=metrics)
    gt = {
        "images": [{"id": i} for i in range(4)],
        "annotations": [
            {"id": i, "image_id": i, "keypoints": [1.0, 1.0, 2.0] * K, "bbox": [0, 0, S, S], "area": S * S}
            for i in range(4)
        ],
    }
    model.set_ground_truth("val", gt)
    model.set_ground_truth("test", gt)
    t = trainer(tmp_path, max_steps=2, limit_val_batches=2, log_every_n_steps=1)
    t.fit(model, loader(), loader())
    logged = set(t.callback_metrics)
    assert {"train/loss", "val/loss", "val/PCK@0.05", "val/AP", "val/AP50", "val/ARl"} <= logged
    res = t.test(model, loader(), verbose=False)[0]
    assert {"test/loss", "test/PCK@0.05", "test/AP"} <= set(res)
    # validation and test use separate evaluators, reset after each epoch
    assert model.evaluators["val"] is not model.evaluators["test"]
    assert all(not m.update_called for _, m in model.evaluators["val"].items())


def test_oks_metrics_take_the_dataset_sigmas_unless_given() -> None:
    model = build(metrics={"AP": node(KeypointAP), "AP17": node(KeypointAP, sigmas=[0.1] * K)})
    ev = dict(model.evaluators["val"].items())
    assert ev["AP"].sigmas.tolist() == [0.05] * K and ev["AP17"].sigmas.tolist() == pytest.approx([0.1] * K)
    with pytest.raises(ValueError, match="17 OKS sigmas but the dataset has 4"):
        build(metrics={"AP": node(KeypointAP, sigmas=[0.1] * 17)})


@pytest.mark.parametrize("kind", ["heatmap", "simcc", "hybrid"])
def test_flip_test_averages_with_the_mirrored_pass(kind: str) -> None:
    model = build(flip_test=True, **PARTS[kind]).eval()
    x = torch.randint(0, 256, (2, 3, S, S), dtype=torch.uint8)
    with torch.no_grad():
        got = model.predict_output(x)
        ref_flip = flip_output(model(x.flip(-1)), model.encoding, FLIP)
        ref = model(x)
        # equivariance: the flip-test output of the mirrored image is the mirrored flip-test output
        mirrored = flip_output(model.predict_output(x.flip(-1)), model.encoding, FLIP)

    def flat(o):
        if isinstance(o, torch.Tensor):
            return o.flatten()
        return torch.cat([flat(t) for t in o])

    assert torch.allclose(flat(got), (flat(ref) + flat(ref_flip)) / 2, atol=1e-6)
    assert torch.allclose(flat(got), flat(mirrored), atol=1e-5)


def test_predict_step_returns_original_coordinates_and_rescored_instances() -> None:
    model = build().eval()
    imgs, kps = disc_images(2, S, K)
    affine = torch.tensor([[2.0, 0.0, 100.0], [0.0, 2.0, 50.0]]).expand(2, 2, 3).clone()
    batch = make_batch(imgs, kps, affine)
    batch["score"] = torch.tensor([0.5, 1.0])
    with torch.no_grad():
        out = model.predict_step(batch, 0)
        input_px, scores = model.decoder.decode(model(imgs), model.encoding)
    assert torch.allclose(out["keypoints"], input_px * 2 + torch.tensor([100.0, 50.0]), atol=1e-4)
    assert torch.allclose(out["scores"], scores)
    valid = (scores > 0.2).float()
    expected = (scores * valid).sum(1) / valid.sum(1).clamp_min(1) * batch["score"]
    assert torch.allclose(out["score"].double(), expected.double()) and out["image_id"].tolist() == [0, 1]


def test_warmup_cosine_scheduler_gets_the_run_length(tmp_path) -> None:
    model = build(
        scheduler={
            "_target_": "lit_heatmap.schedulers.WarmupCosineLR",
            "_partial_": True,
            "warmup_steps": 2,
            "eta_min": 0.0,
        }
    )
    lrs = []
    cb = L.Callback()
    cb.on_train_batch_start = lambda trainer, *a: lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
    t = trainer(tmp_path, max_epochs=3, callbacks=[cb], limit_val_batches=0)
    t.fit(model, loader())  # 2 batches per epoch: 6 optimizer steps
    # warmup 1/3, 2/3 of 1e-3, then cosine over the 4 remaining steps: 1, (1 + cos(pi/4))/2, 1/2, ...
    import math

    want = [1e-3 / 3, 2e-3 / 3] + [1e-3 * 0.5 * (1 + math.cos(math.pi * q / 4)) for q in range(4)]
    assert lrs == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("kind", ["heatmap", "hybrid"])
def test_checkpoint_is_plain_data_and_reloads_identically(tmp_path, kind: str) -> None:
    import timm

    weights = tmp_path / "init.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), weights)
    model = build(
        backbone=node(Backbone, name="test_resnet", pretrained_path=str(weights)),
        metrics={"PCK@0.05": node(PCK, threshold=0.05)},
        flip_test=True,
        **PARTS[kind],
    )
    t = trainer(tmp_path, max_steps=3, limit_val_batches=1)
    t.fit(model, loader(), loader())
    ckpt = tmp_path / "m.ckpt"
    t.save_checkpoint(ckpt)
    weights.unlink()  # reloading must not need the original init weights (nor download any)
    stored = torch.load(ckpt, weights_only=True)["hyper_parameters"]  # plain data: no code is unpickled
    assert stored["backbone"]["pretrained_path"] is None and stored["meta"]["keypoint_names"][0] == "left_a"
    assert model.hparams["backbone"]["pretrained_path"] is None  # what the module stores for reloading
    for loaded in (HeatmapModule.load_from_checkpoint(ckpt), load_model(ckpt)):
        batch = next(iter(loader()))
        model.eval(), loaded.eval()
        with torch.no_grad():
            a, b = model.predict_step(batch, 0), loaded.predict_step(batch, 0)
        assert torch.equal(a["keypoints"], b["keypoints"]) and torch.equal(a["scores"], b["scores"])
        assert loaded.flip_test and loaded.evaluators["val"].names == ["PCK@0.05"]


def test_pickled_checkpoints_of_older_versions_need_trust(tmp_path) -> None:
    """A checkpoint in the old layout (pickled partials and codec objects in hyper_parameters) is refused
    by default, with the message, and loads with trust=True into the same predictions."""
    model = build(decoder=node(ArgmaxDecoder)).eval()
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("pixel_")}
    old = {
        "state_dict": state,
        "hyper_parameters": {
            "backbone": functools.partial(Backbone, name="test_resnet", pretrained=False),
            "head": functools.partial(DeconvHeatmapHead, deconv_channels=16),
            "encoding": Heatmap2D((S, S), sigma=2.0),
            "decoder": ArgmaxDecoder(),
            "loss": KeypointMSELoss(),
            "num_keypoints": K,
            "optimizer": functools.partial(torch.optim.Adam, lr=1e-3),
            "flip_index": FLIP,
            "sigmas": [0.05] * K,
        },
        "dataset_meta": {k: v for k, v in vars(META).items()},
    }
    path = tmp_path / "old.ckpt"
    torch.save(old, path)
    with pytest.raises(CheckpointError, match="older version.*trust_checkpoint=true only if you trust its source"):
        load_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    loaded = load_model(path, trust=True)
    x = disc_images(2, S, K)[0]
    with torch.no_grad():
        assert torch.equal(loaded.decode(loaded(x))[0], model.decode(model(x))[0])
    assert loaded.hparams["encoding"]["_target_"].endswith("Heatmap2D")


def test_load_checkpoint_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.ckpt")
