"""What the Trainer sets up on its device (``HeatmapModule.configure_model``): channels_last when asked (auto:
CUDA only), and ``compile=True``'s compiled training forward; checkpoints stay plain (no ``_orig_mod.``)
and load into an eager NCHW model that reproduces the trained model's outputs."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lit_heatmap.utils import load_model

from .test_channels_last import _batch, _model


def _fit(model, tmp_path, steps: int = 2) -> L.Trainer:
    batches = [_batch(2) for _ in range(steps)]
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    return trainer


def _check_plain_checkpoint(model, trainer, tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=True)["state_dict"]
    assert not [k for k in state if "_orig_mod" in k]
    assert set(state) == set(model.state_dict())
    loaded = load_model(path).eval()
    assert not loaded._channels_last and loaded._train_forward is None
    model.eval()
    images = _batch(2)["image"]
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model(images), rtol=1e-4, atol=1e-5)


def test_auto_keeps_nchw_on_the_cpu_and_true_forces_nhwc(tmp_path) -> None:
    auto = _model("deconv")
    _fit(auto, tmp_path)
    assert not auto._channels_last
    assert torch.get_float32_matmul_precision() == "highest"  # TF32 is a CUDA-only setting
    forced = _model("deconv", channels_last=True)
    trainer = _fit(forced, tmp_path)
    assert forced._channels_last
    assert forced.backbone.body.conv1[0].weight.is_contiguous(memory_format=torch.channels_last)
    _check_plain_checkpoint(forced, trainer, tmp_path)


@pytest.mark.slow
def test_compiled_training_keeps_checkpoints_plain(tmp_path) -> None:
    """torch.compile (CPU inductor: needs a C compiler) of the training forward; eval stays eager."""
    model = _model("multiscale_sum64", compile=True)
    trainer = _fit(model, tmp_path)
    assert model._train_forward is not None
    _check_plain_checkpoint(model, trainer, tmp_path)


@pytest.mark.parametrize(
    ("cuda", "bf16", "expected"), [(True, True, "bf16-mixed"), (True, False, "16-mixed"), (False, False, "16-mixed")]
)
def test_gpu_trainer_precision_resolves_on_the_training_machine(monkeypatch, cuda, bf16, expected) -> None:
    """trainer=gpu: bf16-mixed where the GPU computes bf16 natively (no emulation), else 16-mixed."""
    from omegaconf import OmegaConf

    import lit_heatmap.conf  # noqa: F401 - registers the resolvers

    asked = {}

    def bf16_supported(including_emulation: bool = True) -> bool:
        asked["emulation"] = including_emulation
        return bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16_supported)
    cfg = OmegaConf.load(__import__("pathlib").Path(__file__).parents[2] / "conf" / "trainer" / "gpu.yaml")
    assert cfg.precision == expected
    assert asked.get("emulation", False) is False
