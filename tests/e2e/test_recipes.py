"""Every recipe (conf/experiment) sets what it promises, and trains and tests through train.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from helpers.runs import CONF, run_entry_point

FRAMES = "dfd.models.FrameDetector"
VIDEO = "dfd.models.video.VideoDetector"
MOBILENET = OmegaConf.load(
    CONF / "model" / "mobilenet_v2.yaml"
).backbone.weights  # offline ImageNet

# the settings that make each recipe what its comment says
RECIPES: dict[str, dict[str, Any]] = {
    "frames": {"model._target_": FRAMES, "datamodule.clip_len": 1},
    "clips_mixup_staged": {
        "datamodule.clip_len": 4,
        "module.mixup.mixup_alpha": 0.2,
        "callbacks.backbone_finetuning.unfreeze_backbone_at_epoch": 2,
    },
    "timm_efficientnet": {"model.backbone.name": "efficientnet_b0", "datamodule.clip_len": 1},
    "effnet_b0_frames": {
        "model._target_": FRAMES,
        "model.backbone.name": "efficientnet_b0",
        "model.dropout": 0.3,
        "datamodule.clip_len": 1,
        "module.mixup.mixup_alpha": 0.4,
        "module.label_smoothing": 0.05,
        "callbacks.backbone_finetuning.unfreeze_backbone_at_epoch": 3,
        "callbacks.backbone_finetuning.backbone_initial_ratio_lr": 0.1,
        "logger.tensorboard._target_": "lightning.pytorch.loggers.TensorBoardLogger",
    },
    "mobilenetv3_small_frames": {
        "model.backbone.name": "mobilenetv3_small_100",
        "datamodule.clip_len": 1,
        "module.pos_weight": "auto",
        "trainer.precision": "16-mixed",
    },
    "resnext50_lstm": {
        "model.backbone.name": "resnext50_32x4d",
        "model.temporal._target_": "dfd.models.temporal.LSTMHead",
        "datamodule.clip_len": 8,
    },
    "effnet_b0_frame_average": {
        "model.backbone.name": "efficientnet_b0",
        "datamodule.clip_len": 1,
        "module.aggregation": "mean",
    },
    "r2plus1d_clips": {
        "model._target_": VIDEO,
        "model.name": "r2plus1d_18",
        "datamodule.clip_len": 16,
        "datamodule.image_size": 112,
    },
    "s3d_clips": {
        "model._target_": VIDEO,
        "model.name": "s3d",
        "datamodule.clip_len": 16,
        "datamodule.image_size": 224,
    },
    "frame_transformer": {
        "model.temporal._target_": "dfd.models.temporal.TransformerHead",
        "datamodule.clip_len": 8,
    },
    "sbi": {
        "model.backbone.name": "efficientnet_b4",
        "datamodule.clip_len": 1,
        "datamodule.image_size": 380,
        "datamodule.train_real_only": True,
        "datamodule.pair_self_blend": True,
        "datamodule.online_self_blend": 0,
        "datamodule.self_blend_style": "sbi",
        "module.optimizer._target_": "torch.optim.SGD",
    },
    "linear_probe": {
        "model._target_": FRAMES,
        "model.backbone.name": "mobilenet_v2",
        "model.backbone.weights": MOBILENET,
        "model.temporal._target_": "dfd.models.temporal.MeanPool",
        "module.freeze_backbone": True,
        "datamodule.augment": [],
        "datamodule.online_self_blend": 0.0,
        "datamodule.clip_len": 8,
    },
    "dfdc_winner": {
        "model.backbone.name": "efficientnet_b0",
        "datamodule.clip_len": 1,
        "module.label_smoothing": 0.1,
        "datamodule.augment.0._target_": "dfd.data.augment.FacePartCutout",
        "datamodule.augment.1.transforms.5._target_": "albumentations.CoarseDropout",
    },
}

# what the smoke run shrinks for 2 CPU cores: the smallest image each model takes, 2 clips
# (1 real/fake pair) per batch, fp32 (16-mixed is GPU-only)
SMOKE = {
    "datamodule.image_size": "${oc.select:model.requires.min_image_size,64}",
    "datamodule.batch_size": 2,
    "trainer.precision": "32-true",
    "evaluation.report": "false",
}


def key_settings(cfg: DictConfig, recipe: str, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The recipe's key settings as `cfg` has them (those in `skip` left out)."""
    return {
        key: OmegaConf.select(cfg, key, throw_on_missing=True)
        for key in RECIPES[recipe]
        if key not in skip
    }


def test_every_recipe_is_listed() -> None:
    assert set(RECIPES) == {path.stem for path in (CONF / "experiment").glob("*.yaml")}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_composes_with_its_key_settings(tmp_path: Path, recipe: str) -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={recipe}", f"paths.output_dir={tmp_path}"])
    assert cfg.experiment_name == recipe
    assert key_settings(cfg, recipe) == RECIPES[recipe]
    text = (CONF / "experiment" / f"{recipe}.yaml").read_text()
    assert text.startswith("# @package _global_\n# "), "a recipe starts by saying what it is"


@pytest.mark.slow
def test_every_recipe_trains_and_tests_in_one_multirun(tiny_prepared: Path, tmp_path: Path) -> None:
    run_entry_point(
        "train.py",
        "-m",
        f"experiment={','.join(sorted(RECIPES))}",
        "debug=fast",
        f"data.prepared_dir={tiny_prepared.parent}",
        f"paths.log_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
        *[f"{key}={value}" for key, value in SMOKE.items()],
        timeout=900,
    )
    (sweep,) = (tmp_path / "train" / "debug" / "multiruns").iterdir()
    folders = [path for path in sweep.iterdir() if path.is_dir()]
    assert len(folders) == len(RECIPES)
    jobs = {}
    for job in folders:
        cfg = OmegaConf.load(job / ".hydra" / "config.yaml")
        jobs[cfg.experiment_name] = job
        assert key_settings(cfg, cfg.experiment_name, skip=tuple(SMOKE)) == {
            key: value for key, value in RECIPES[cfg.experiment_name].items() if key not in SMOKE
        }
        assert cfg.datamodule.image_size == (209 if cfg.model.get("name") == "s3d" else 64)
        # 2 test batches may hold one class only: the AUC can be NaN, the report must be there
        assert (
            "auroc" in json.loads((job / "eval" / "demo" / "metrics.json").read_text())["video"]
        ), job
    assert sorted(jobs) == sorted(RECIPES)
    assert list((jobs["effnet_b0_frames"] / "tensorboard").rglob("events.out.tfevents.*"))
