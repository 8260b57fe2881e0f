"""The train and evaluate jobs behind train.py and evaluate.py (given a composed Hydra config)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from dfd.callbacks import RandomStateCheckpoint
from dfd.console import closing_line, quiet_library_noise
from dfd.data.datamodule import FaceClipDataModule
from dfd.ddp import SameConfigOnEveryRank, config_digest, share_job_config
from dfd.eval.report import video_score_table, write_report
from dfd.module import DeepfakeDetectionModule
from dfd.resume import resume_config
from dfd.runinfo import save_run_info
from dfd.sweeps.optuna import raise_if_pruned, trial_callbacks
from dfd.sweeps.tags import tag_sweep_job

log = logging.getLogger(__name__)


def instantiate_each(configs: Mapping[str, Any] | None) -> list[Any]:
    """Instantiate every `_target_` entry of a config group (callbacks, loggers)."""
    return [instantiate(c) for c in (configs or {}).values()
            if isinstance(c, Mapping) and "_target_" in c]


def finish_wandb() -> None:
    """End the W&B run, if any, so each (multirun) job is a separate run."""
    wandb = sys.modules.get("wandb")  # only loaded when a W&B logger was configured
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def test_and_report(trainer: L.Trainer, module: DeepfakeDetectionModule,
                    datamodule: FaceClipDataModule, ckpt_path: str | None,
                    output_dir: Path, weights_loaded: bool = False) -> dict[str, float]:
    """Score the test split, write the per-video CSV and metrics JSON; return the metrics.

    `ckpt_path` is restored before testing unless `weights_loaded` says the module already
    holds it; either way the report names it.
    """
    trainer.test(module, datamodule=datamodule, ckpt_path=None if weights_loaded else ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    if trainer.is_global_zero:
        table = video_score_table(module.test_predictions, datamodule.dataset("test").video_ids,
                                  module.hparams.aggregation)
        metrics["test/num_videos"] = float(len(table))
        write_report(table, {**metrics, "checkpoint": ckpt_path}, output_dir)
    return metrics


@rank_zero_only
def _record_run(cfg: DictConfig, loggers: list[Any]) -> None:
    save_run_info(Path(cfg.paths.output_dir), cfg.get("seed"), Path(cfg.paths.root_dir))
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)


def optimized_value(trainer: L.Trainer, name: str | None) -> float | None:
    """The value a sweeper optimizes: the best checkpoint's score when the checkpoint
    monitors `name` (the model the run keeps), else the last value logged."""
    checkpoint = trainer.checkpoint_callback
    if (checkpoint is not None and checkpoint.monitor == name
            and checkpoint.best_model_score is not None):
        return float(checkpoint.best_model_score)
    value = trainer.callback_metrics.get(name) if name else None
    return None if value is None else float(value)


def train(cfg: DictConfig) -> float | None:
    """Fit on train, choose the checkpoint on val, then score test with it.

    Returns the value of `cfg.optimized_metric` (for sweepers such as Optuna).
    """
    quiet_library_noise()
    if HydraConfig.initialized():  # rank 0 of a job (a joined rank > 0 gets its config)
        cfg = tag_sweep_job(resume_config(cfg))
        share_job_config(cfg, Path(cfg.paths.output_dir))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule: FaceClipDataModule = instantiate(cfg.datamodule)
    module: DeepfakeDetectionModule = instantiate(cfg.module)
    module.detector.check_input(datamodule.hparams.clip_len, datamodule.hparams.image_size)
    callbacks = instantiate_each(cfg.get("callbacks")) + trial_callbacks(cfg)
    callbacks += [RandomStateCheckpoint(), SameConfigOnEveryRank(config_digest(cfg))]
    loggers = instantiate_each(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    _record_run(cfg, loggers)
    try:
        if cfg.get("train", True):
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
            if raise_if_pruned(trainer):  # an Optuna trial pruned: rank 0 raised TrialPruned
                return None
        metric = optimized_value(trainer, cfg.get("optimized_metric"))
        checkpoint = trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint is not None else ""
        metrics: dict[str, float] = {}
        if cfg.get("test", True):
            if not best:
                log.warning("no best checkpoint (no ModelCheckpoint or no validation): "
                            "testing the last weights")
            metrics = test_and_report(trainer, module, datamodule, best or None,
                                      Path(cfg.paths.output_dir))
        if trainer.is_global_zero:
            score = checkpoint.best_model_score if checkpoint is not None else None
            print(closing_line(Path(cfg.paths.output_dir), metrics,
                               None if score is None else (checkpoint.monitor, float(score))))
    finally:
        finish_wandb()
    return metric


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Score the test split of `cfg.data` with a trained checkpoint.

    The clip settings (clip length, image size, normalization) come from the checkpoint's
    datamodule; `cfg.data_overrides` replaces the data source and loader settings.
    """
    quiet_library_noise()
    ckpt_path = str(cfg.ckpt_path)
    if not Path(ckpt_path).exists():
        raise FileNotFoundError(f"checkpoint not found: {ckpt_path}")
    module = DeepfakeDetectionModule.load_from_checkpoint(ckpt_path, map_location="cpu")
    overrides = OmegaConf.to_container(cfg.get("data_overrides") or {}, resolve=True)
    datamodule = FaceClipDataModule.load_from_checkpoint(ckpt_path, **overrides)
    module.detector.check_input(datamodule.hparams.clip_len, datamodule.hparams.image_size)
    loggers = instantiate_each(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    _record_run(cfg, loggers)
    try:
        metrics = test_and_report(trainer, module, datamodule, ckpt_path,
                                  Path(cfg.paths.output_dir), weights_loaded=True)
        if trainer.is_global_zero:
            print(closing_line(Path(cfg.paths.output_dir), metrics))
        return metrics
    finally:
        finish_wandb()
