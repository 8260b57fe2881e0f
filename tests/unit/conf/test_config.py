"""Every option of every config group composes, resolves and instantiates; bad names fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.errors import MissingConfigException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfd.data.transforms import build_clip_transform
from dfd.eval.scoring import ScoringSettings
from dfd.tasks.train import instantiate_each
from helpers.runs import CONF, compose_train, options

TRAIN_GROUPS = (
    "data",
    "datamodule",
    "augment",
    "model",
    "module",
    "evaluation",
    "callbacks",
    "logger",
    "trainer",
    "paths",
    "hydra",
    "experiment",
    "debug",
)
CPU_TRAINERS = {"default", "cpu", "ddp_sim"}


@pytest.mark.parametrize("group,option", [(g, o) for g in TRAIN_GROUPS for o in options(g)])
def test_train_option_composes_and_instantiates(tmp_path: Path, group: str, option: str) -> None:
    cfg = compose_train(tmp_path, f"{group}={option}")
    if group in ("model", "module", "experiment"):
        module = instantiate(cfg.module)
        # models with fixed input needs (mvit, s3d) get their shape, one clip to keep it quick
        clip_len, size = module.detector.input_spec.nearest(cfg.datamodule.clip_len, 64)
        batch = 2 if (clip_len, size) == (cfg.datamodule.clip_len, 64) else 1
        with torch.no_grad():
            logits = module(torch.randn(batch, clip_len, 3, size, size))
        assert logits.shape == (batch,)
    if group in ("datamodule", "augment", "experiment", "debug"):
        assert instantiate(cfg.datamodule).hparams.clip_len >= 1
        build_clip_transform(cfg.datamodule.image_size, cfg.datamodule.augment)
    if group == "callbacks":
        assert all(callback is not None for callback in instantiate_each(cfg.callbacks))
    if group == "logger":
        loggers = instantiate_each(cfg.logger)
        assert loggers and all(hasattr(logger, "log_metrics") for logger in loggers)
    if group == "trainer" and option in CPU_TRAINERS:
        trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
        assert trainer.max_epochs == cfg.trainer.max_epochs
    if group == "data":
        assert cfg.data.prepared_dir and "_target_" in cfg.data.labels


@pytest.mark.parametrize("group", ["data", "logger", "evaluation"])
def test_eval_config_composes(tmp_path: Path, group: str) -> None:
    for option in options(group):
        cfg = compose_train(tmp_path, f"{group}={option}", "ckpt_path=x.ckpt", config="eval")
        assert cfg.data.prepared_dir and cfg.evaluation.threshold.rule in ("eer", "youden", "fixed")
        if group == "evaluation":
            evaluation = OmegaConf.to_container(cfg.evaluation, resolve=True)
            settings = ScoringSettings.from_evaluation(evaluation, None, 4)
            assert settings.crops == evaluation["views"]["crops"]
            assert list(settings.tta) == evaluation["tta"]


def test_multiview_evaluation_scores_six_views_a_clip(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "evaluation=multiview")
    settings = ScoringSettings.from_evaluation(
        OmegaConf.to_container(cfg.evaluation, resolve=True), None, 4
    )
    assert (settings.crops, settings.tta, settings.view_reduce) == (3, ("hflip",), "mean")
    assert cfg.evaluation.threshold.rule == "eer" and cfg.evaluation.report


@pytest.mark.parametrize("option", options("data"))
def test_prepare_config_composes(tmp_path: Path, option: str) -> None:
    cfg = compose_train(tmp_path, f"data={option}", config="prepare")
    assert cfg.prepare.num_frames > 0 and cfg.data.labels._target_.startswith(
        ("dfd.datasets.labels.", "dfd.datasets.layouts.", "dfd.datasets.releases.")
    )


def test_unknown_config_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingConfigException, match="nonexistent_backbone"):
        compose_train(tmp_path, "model=nonexistent_backbone")


def test_unknown_timm_model_is_a_clear_error(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "model=timm", "model.backbone.name=not_a_model")
    with pytest.raises(Exception, match=r"unknown timm model .{0,4}not_a_model"):
        instantiate(cfg.module)


def test_wandb_sweep_parameters_are_train_overrides(tmp_path: Path) -> None:
    sweep = OmegaConf.load(CONF.parent / "sweep.yaml")
    assert sweep.metric.name == compose_train(tmp_path).optimized_metric
    for name, spec in sweep.parameters.items():
        values = spec.get("values") or [spec["min"], spec["max"]]
        for value in values:
            cfg = compose_train(tmp_path, f"{name}={value}")
            if name != "augment":
                assert OmegaConf.select(cfg, name) == value
