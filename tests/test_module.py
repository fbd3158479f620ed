"""HeatmapModule: construction checks, steps, logging names, flip test, predict, checkpoint reload."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent / "models"))
from model_helpers import disc_images, make_batch  # noqa: E402

from lit_heatmap.codecs import (  # noqa: E402
    DarkDecoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    QuarterOffsetDecoder,
    SimCC,
    SoftArgmaxDecoder,
    flip_output,
)
from lit_heatmap.metrics import PCK, KeypointAP  # noqa: E402
from lit_heatmap.models import (  # noqa: E402
    Backbone,
    DeconvHeatmapHead,
    HybridHead,
    HybridLoss,
    KeypointMSELoss,
    KLDiscreteLoss,
    SimCCHead,
)
from lit_heatmap.module import HeatmapModule, instance_scores, to_original  # noqa: E402

S, K = 64, 4


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one torch thread is as fast, and avoids OpenMP spin-waits on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
HM = Heatmap2D((S, S), sigma=2.0)
SC = SimCC((S, S), split_ratio=2.0, sigma=2.0)
FLIP = [1, 0, 3, 2]


def build(head=None, encoding=HM, decoder=None, loss=None, **kw) -> HeatmapModule:
    return HeatmapModule(
        backbone=functools.partial(Backbone, name="test_resnet"),
        head=head or functools.partial(DeconvHeatmapHead, deconv_channels=16),
        encoding=encoding,
        decoder=decoder or DarkDecoder(),
        loss=loss or KeypointMSELoss(),
        num_keypoints=K,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        **kw,
    )


def collate(samples):
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}


def loader(n: int = 4) -> DataLoader:
    imgs, kps = disc_images(n, S, K)
    batch = make_batch(imgs, kps)
    samples = [{k: v[i] for k, v in batch.items()} for i in range(n)]
    return DataLoader(samples, batch_size=2, collate_fn=collate)


def trainer(tmp_path, **kw) -> L.Trainer:
    return L.Trainer(
        default_root_dir=tmp_path, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, **kw,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"head": functools.partial(SimCCHead), "encoding": HM}, "SimCCHead cannot be trained with a Heatmap2D"),
        ({"encoding": SC, "decoder": SoftArgmaxDecoder(), "loss": KLDiscreteLoss()}, "DeconvHeatmapHead cannot be trained with a SimCC"),
        ({"head": functools.partial(SimCCHead), "encoding": SC, "decoder": QuarterOffsetDecoder(), "loss": KLDiscreteLoss()}, "QuarterOffsetDecoder cannot decode the output of SimCC"),
        ({"head": functools.partial(HybridHead), "encoding": Hybrid(HM, SC), "loss": HybridLoss()}, "DarkDecoder cannot decode the output of Hybrid.*decoder=hybrid"),
        ({"loss": KLDiscreteLoss()}, "KLDiscreteLoss cannot train a Heatmap2D"),
        ({"flip_test": True}, "flip_index"),
        ({"flip_index": [0, 0, 1, 2]}, "permutation"),
    ],
)
def test_bad_combinations_fail_at_construction(kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_to_original_and_instance_scores_golden() -> None:
    affine = torch.tensor([[[2.0, 0.0, 10.0], [0.0, 3.0, -5.0]]])
    assert to_original(torch.tensor([[[1.0, 2.0]]]), affine).tolist() == [[[12.0, 1.0]]]
    s = instance_scores(torch.tensor([[0.9, 0.1, 0.5], [0.1, 0.1, 0.1]]), torch.tensor([0.5, 1.0]), 0.2)
    assert s.tolist() == pytest.approx([0.35, 0.0])  # mean(0.9, 0.5) * 0.5; nothing above 0.2 -> 0


def test_training_and_validation_log_the_contract_names(tmp_path) -> None:
    model = build(metrics={"PCK@0.05": PCK(0.05), "AP": KeypointAP()}, sigmas=[0.05] * K)
    t = trainer(tmp_path, max_steps=2, limit_val_batches=2, log_every_n_steps=1)
    t.fit(model, loader(), loader())
    logged = set(t.callback_metrics)
    assert {"train/loss", "val/loss", "val/PCK@0.05", "val/AP", "val/AP50", "val/ARl"} <= logged
    res = t.test(model, loader(), verbose=False)[0]
    assert {"test/loss", "test/PCK@0.05", "test/AP"} <= set(res)
    # validation and test use separate metric copies, reset after each epoch
    assert model.val_metrics is not model.test_metrics
    assert all(not m.update_called for m in model.val_metrics.values())


def test_coco_metric_needs_dataset_sigmas() -> None:
    with pytest.raises(ValueError, match="17 OKS sigmas.*4 keypoints"):
        build(metrics={"AP": KeypointAP()})


def test_keypoint_ap_gets_per_image_dicts() -> None:
    model = build()
    imgs, kps = disc_images(3, S, K)
    batch = make_batch(imgs, kps)
    batch["image_id"] = torch.tensor([5, 5, 7])
    scores = torch.tensor([[0.9, 0.9, 0.1, 0.9]] * 3)
    preds, targets = model._image_dicts(kps, scores, batch)
    assert [int(p["image_id"]) for p in preds] == [5, 7]
    assert tuple(preds[0]["keypoints"].shape) == (2, K, 3) and tuple(targets[1]["keypoints"].shape) == (1, K, 3)
    assert preds[0]["scores"].tolist() == pytest.approx([0.9, 0.9])
    assert targets[0]["area"].tolist() == [S * S, S * S] and targets[0]["iscrowd"].tolist() == [0, 0]


@pytest.mark.parametrize("kind", ["heatmap", "simcc", "hybrid"])
def test_flip_test_averages_with_the_mirrored_pass(kind: str) -> None:
    parts = {
        "heatmap": {},
        "simcc": {"head": functools.partial(SimCCHead, in_index=-2), "encoding": SC, "decoder": SoftArgmaxDecoder(beta=10.0, window=6), "loss": KLDiscreteLoss()},
        "hybrid": {"head": functools.partial(HybridHead, simcc={"in_index": -2}), "encoding": Hybrid(HM, SC), "decoder": HybridDecoder(), "loss": HybridLoss()},
    }[kind]
    model = build(flip_test=True, flip_index=FLIP, **parts).eval()
    x = torch.randn(2, 3, S, S)
    with torch.no_grad():
        got = model.predict_output(x)
        ref_flip = flip_output(model(x.flip(-1)), model.encoding, FLIP)
        ref = model(x)
        # equivariance: the flip-test output of the mirrored image is the mirrored flip-test output
        mirrored = flip_output(model.predict_output(x.flip(-1)), model.encoding, FLIP)
    flat = lambda o: torch.cat([t.flatten() for t in (o if isinstance(o, tuple) else (o,)) for t in (t if isinstance(t, tuple) else (t,))])  # noqa: E731
    assert torch.allclose(flat(got), (flat(ref) + flat(ref_flip)) / 2, atol=1e-6)
    assert torch.allclose(flat(got), flat(mirrored), atol=1e-5)


def test_predict_step_returns_original_coordinates() -> None:
    model = build().eval()
    imgs, kps = disc_images(2, S, K)
    affine = torch.tensor([[2.0, 0.0, 100.0], [0.0, 2.0, 50.0]]).expand(2, 2, 3).clone()
    batch = make_batch(imgs, kps, affine)
    with torch.no_grad():
        out = model.predict_step(batch, 0)
        input_px, scores = model.decoder.decode(model(imgs), model.encoding)
    assert torch.allclose(out["keypoints"], input_px * 2 + torch.tensor([100.0, 50.0]), atol=1e-4)
    assert torch.allclose(out["scores"], scores)
    assert out["image_id"].tolist() == [0, 1] and tuple(out["bbox"].shape) == (2, 4) and tuple(out["score"].shape) == (2,)


def test_configure_optimizers_with_a_scheduler_partial() -> None:
    model = build(
        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=3),
        scheduler_config={"interval": "step", "frequency": 2},
    )
    conf = model.configure_optimizers()
    assert isinstance(conf["optimizer"], torch.optim.Adam)
    assert isinstance(conf["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert conf["lr_scheduler"]["interval"] == "step" and conf["lr_scheduler"]["frequency"] == 2
    assert isinstance(build().configure_optimizers(), torch.optim.Adam)


@pytest.mark.parametrize("kind", ["heatmap", "hybrid"])
def test_checkpoint_reload_gives_identical_predictions(tmp_path, kind: str) -> None:
    import timm

    weights = tmp_path / "init.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), weights)
    parts = {} if kind == "heatmap" else {
        "head": functools.partial(HybridHead, simcc={"in_index": -2}), "encoding": Hybrid(HM, SC),
        "decoder": HybridDecoder(), "loss": HybridLoss(),
    }  # fmt: skip
    model = HeatmapModule(
        backbone=functools.partial(Backbone, name="test_resnet", pretrained_path=str(weights)),
        head=parts.get("head", functools.partial(DeconvHeatmapHead, deconv_channels=16)),
        encoding=parts.get("encoding", HM), decoder=parts.get("decoder", DarkDecoder()),
        loss=parts.get("loss", KeypointMSELoss()), num_keypoints=K,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-2), metrics={"PCK@0.05": PCK(0.05)},
        flip_test=True, flip_index=FLIP,
    )  # fmt: skip
    t = trainer(tmp_path, max_steps=3, limit_val_batches=1)
    t.fit(model, loader(), loader())
    ckpt = tmp_path / "m.ckpt"
    t.save_checkpoint(ckpt)
    weights.unlink()  # reloading must not need the original init weights (nor download any)
    loaded = HeatmapModule.load_from_checkpoint(ckpt)
    assert model.hparams["backbone"].keywords["pretrained_path"] == str(weights)  # the live run keeps its config
    stored = torch.load(ckpt, weights_only=False)["hyper_parameters"]["backbone"]
    for kw in (stored.keywords, loaded.hparams["backbone"].keywords):  # the checkpoint's needs no init weights
        assert "pretrained_path" not in kw and kw["pretrained"] is False
    batch = next(iter(loader()))
    model.eval(), loaded.eval()
    with torch.no_grad():
        a, b = model.predict_step(batch, 0), loaded.predict_step(batch, 0)
    assert torch.equal(a["keypoints"], b["keypoints"]) and torch.equal(a["scores"], b["scores"])
    assert type(loaded.encoding) is type(model.encoding) and loaded.flip_test and loaded.metric_names == ["PCK@0.05"]
