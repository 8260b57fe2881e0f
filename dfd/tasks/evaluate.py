"""The evaluate job behind evaluate.py: a trained checkpoint scored on one or several datasets."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import FaceClipDataset
from dfd.datasets.configs import dataset_manifests
from dfd.runs import RunDir
from dfd.tasks.checkpoints import load_trained
from dfd.tasks.console import closing_line, quiet_library_noise
from dfd.tasks.evaluation import flat_metrics
from dfd.tasks.evaluation_report import report_checkpoint
from dfd.tasks.tested_datasets import test_datamodules, test_splits
from dfd.tasks.train import finish_wandb, instantiate_each, record_run
from dfd.tasks.wandb_run import identify_wandb_run

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Score a trained checkpoint on the test split of one or several datasets.

    The clip settings (clip length, image size, normalization) come from the checkpoint, the
    scoring settings (views, aggregation, threshold rule) from its run folder if it has one; the
    threshold is chosen on the validation split of the data it was trained on (or, when that
    is gone, of the first dataset evaluated) and applied unchanged to every test set. Each
    dataset's results go to `<output_dir>/eval/<dataset>/`, a summary across them beside.
    """
    quiet_library_noise()
    trained = load_trained(cfg.ckpt_path)
    run = trained.run
    cfg = with_run_scoring(with_run_data(cfg, run), run)
    if HydraConfig.initialized():
        cfg = identify_wandb_run(cfg)
    module = trained.module
    overrides = OmegaConf.to_container(cfg.get("data_overrides") or {}, resolve=True)
    # multi-view testing samples this evaluation's clips, whatever the run trained with
    overrides["eval_clips_per_track"] = OmegaConf.select(cfg, "evaluation.views.clips")
    trained_on = FaceClipDataModule(**{**trained.data, **overrides})
    module.detector.check_input(trained_on.hparams.clip_len, trained_on.hparams.image_size)
    names = list(cfg.get("datasets") or []) or [str(cfg.data.name)]
    modules = test_datamodules(dataset_manifests(cfg, names), trained.data, overrides)
    test_sets = test_splits(modules)
    val, source = threshold_split(trained_on, next(iter(modules.values())))
    loggers = instantiate_each(cfg.get("logger"))
    record_run(cfg, loggers)
    try:
        results = report_checkpoint(
            cfg,
            module,
            trained_on,
            val,
            test_sets,
            RunDir(Path(cfg.paths.output_dir)),
            str(trained.path),
            cfg.device,
            precision=cfg.precision,
            history_path=run.history if run else None,
            config_yaml=training_config(run) or OmegaConf.to_yaml(cfg, resolve=True),
            loggers=loggers,
            own_data=run.data_name() if run else None,
            threshold_source=source,
        )
        finish_wandb()  # before the closing lines: W&B prints as it ends
        for result in results.values():
            print(closing_line(result.folder, flat_metrics("test", result.metrics)))
        return {name: result.metrics for name, result in results.items()}
    finally:
        finish_wandb()


def command_overrides() -> list[str]:
    """The overrides of this command line ([] outside a Hydra job)."""
    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def override_keys(overrides: list[str]) -> list[str]:
    """The dotted keys a command line sets (`+`, `~` and values dropped)."""
    return [override.lstrip("+~").partition("=")[0] for override in overrides]


def with_run_data(cfg: DictConfig, run: RunDir | None) -> DictConfig:
    """A run knows its data: without `data=` or `datasets=` on the command line, the test set is
    the run's own dataset as it trained on it (its `data` config; `data.<key>=` still applies)."""
    keys = override_keys(command_overrides())
    own = run.read_config().get("data") if run else None
    if not isinstance(own, dict) or any(key in ("data", "datasets") for key in keys):
        return cfg
    data = OmegaConf.create(own)
    for key in (key for key in keys if key.startswith("data.")):  # as this command set them
        OmegaConf.update(data, key.removeprefix("data."), OmegaConf.select(cfg, key))
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.data = data
    log.info("testing on the run's own data: %s", cfg.data.get("name"))
    return cfg


# how the run scored its clips and chose its threshold: what its eval/ folder and `dfd predict`
# used, so evaluating the run again gives the same scores unless the command line says otherwise
RUN_SCORING_KEYS = ("tta", "views", "aggregation", "aggregation_options", "threshold", "batch_size")


def with_run_scoring(
    cfg: DictConfig, run: RunDir | None, overrides: list[str] | None = None
) -> DictConfig:
    """A run knows how it was scored: each of `RUN_SCORING_KEYS` comes from the run's
    `evaluation` config unless the command line (`overrides`, default: this command's) sets
    `evaluation=` or that key. Reports, Grad-CAM, robustness and bootstrap stay the command's."""
    keys = override_keys(command_overrides() if overrides is None else overrides)
    own = run.read_config().get("evaluation") if run else None
    if not isinstance(own, dict) or "evaluation" in keys:
        return cfg
    current = OmegaConf.to_container(cfg.evaluation, resolve=True)
    taken = [
        key
        for key in RUN_SCORING_KEYS
        if key in own
        and own[key] != current.get(key)
        and not any(k == f"evaluation.{key}" or k.startswith(f"evaluation.{key}.") for k in keys)
    ]
    if not taken:
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in taken:
            cfg.evaluation[key] = own[key]
    log.info("scoring as the run did: %s", ", ".join(f"{k}={own[k]}" for k in taken))
    return cfg


def threshold_split(
    trained_on: FaceClipDataModule, first: FaceClipDataModule
) -> tuple[FaceClipDataset | None, str]:
    """The validation split of the checkpoint's own data, or of the first test dataset when the
    training data is not here (with a warning: the threshold then comes from another source)."""
    try:
        trained_on.setup()
        return trained_on.datasets.get("val"), "val"
    except FileNotFoundError:
        log.warning(
            "the checkpoint's training data (%s) is not here: choosing the threshold on "
            "the validation split of %s",
            trained_on.hparams.manifest_path,
            first.hparams.manifest_path,
        )
        first.setup()
        return first.datasets.get("val"), f"val of {first.hparams.manifest_path}"


def training_config(run: RunDir | None) -> str | None:
    """The training run's composed config, when the checkpoint sits in its run folder."""
    return run.config.read_text() if run and run.config.is_file() else None
