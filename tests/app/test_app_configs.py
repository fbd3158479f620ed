"""Every option of the app's config groups composes; the recipes carry the settings they cite."""

from __future__ import annotations

import pytest

from lit_heatmap.codecs.compat import check_compatible
from lit_heatmap.nodes import build, build_partial, plain, with_input_size
from lit_heatmap.utils import check_compatibility


@pytest.mark.parametrize(
    "override",
    [
        "debug=fast_dev_run",
        "debug=overfit",
        "debug=limit",
        "trainer=gpu",
        "trainer=ddp",
        "trainer=ddp_cpu",
        "logger=wandb",
        "logger=tensorboard",
        "logger=none",
        "logger=many",
        "callbacks=none",
        "scheduler=multistep",
        "scheduler=constant",
        "optimizer=sgd",
        "optimizer=adam",
        "hparams_search=optuna",
        "hydra/launcher=slurm",
    ],
)
def test_option_composes(make_cfg, override: str) -> None:
    cfg = make_cfg([override], tiny=False)
    assert cfg.model._target_ == "lit_heatmap.module.HeatmapModule"
    if override == "hydra/launcher=slurm":
        assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
        assert cfg.hydra.launcher.tasks_per_node == cfg.trainer.devices
    if override.startswith("debug="):
        assert cfg.dataset.datamodule.num_workers == 0 and cfg.task_name == "debug"


@pytest.mark.parametrize(
    ("experiment", "expect"),
    [
        (
            "coco_hrnet_w32_256x192",
            {
                "encoding.mode": "msra",
                "decoder._target_": "lit_heatmap.codecs.QuarterOffsetDecoder",
                "backbone.name": "hrnet_w32",
                "optimizer.lr": 5e-4,
                "trainer.max_epochs": 210,
            },
        ),
        (
            "coco_hrnet_w32_dark",
            {
                "encoding.mode": "unbiased",
                "decoder._target_": "lit_heatmap.codecs.DarkDecoder",
                "backbone.name": "hrnet_w32",
                "trainer.max_epochs": 210,
            },
        ),
        (
            "coco_res50_simcc",
            {
                "encoding.sigma": 6.0,
                "encoding.split_ratio": 2.0,
                "head.deconv_channels": [256, 256, 256],
                "backbone.name": "resnet50",
                "optimizer.lr": 1e-3,
            },
        ),
        (
            "wflw_hrnetv2_w18",
            {
                "dataset.input_size": [256, 256],
                "head.fuse": "concat",
                "optimizer.lr": 2e-3,
                "scheduler.milestones": [40, 55],
                "trainer.max_epochs": 60,
            },
        ),
        ("synthetic_quick", {"trainer.max_epochs": 2}),
    ],
)
def test_experiment_recipes(make_cfg, experiment: str, expect: dict) -> None:
    from omegaconf import OmegaConf

    cfg = make_cfg(
        [f"experiment={experiment}", "dataset.root=/nonexistent"]
        if not experiment.startswith("synthetic")
        else [f"experiment={experiment}"],
        tiny=False,
    )
    for key, value in expect.items():
        got = OmegaConf.select(cfg, key)
        got = OmegaConf.to_container(got) if OmegaConf.is_config(got) else got
        assert got == value, key
    check_compatibility(cfg)  # the recipe's encoding and decoder work together
    # and its head produces that encoding (the check the module runs, on the built parts)
    check_compatible(
        build(with_input_size(plain(cfg.encoding), cfg.dataset.input_size)),
        head=build_partial(cfg.head),
        decoder=build(cfg.decoder),
        loss=build(cfg.loss),
    )
