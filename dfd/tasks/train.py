"""The train and evaluate jobs behind train.py and evaluate.py (given a composed Hydra config)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from dfd.config import is_rank_above_zero
from dfd.data.datamodule import FaceClipDataModule, check_targets
from dfd.datasets.configs import dataset_manifests
from dfd.datasets.identity_check import identity_message, identity_overlap
from dfd.datasets.manifest import frame_stride, ok_rows, read_manifest
from dfd.models.base import Detector
from dfd.module import DeepfakeDetectionModule
from dfd.runs import RunDir, save_run_info
from dfd.sweeps.optuna import raise_if_pruned, trial_callbacks
from dfd.sweeps.tags import tag_sweep_job
from dfd.tasks.callbacks import ClipsPerRank, EpochHistory, RandomStateCheckpoint
from dfd.tasks.console import closing_line, quiet_library_noise
from dfd.tasks.ddp import SameConfigOnEveryRank, config_digest, share_job_config
from dfd.tasks.evaluation import flat_metrics
from dfd.tasks.evaluation_report import report_checkpoint
from dfd.tasks.resume import resume_config
from dfd.tasks.tested_datasets import test_datamodules, test_splits
from dfd.tasks.wandb_run import identify_wandb_run

log = logging.getLogger(__name__)


def instantiate_each(configs: Mapping[str, Any] | None) -> list[Any]:
    """Instantiate every `_target_` entry of a config group (callbacks, loggers)."""
    return [
        instantiate(c)
        for c in (configs or {}).values()
        if isinstance(c, Mapping) and "_target_" in c
    ]


def finish_wandb() -> None:
    """End the W&B run, if any, so each (multirun) job is a separate run. An offline run says
    how to sync it, in one line: W&B's own summary is off (conf/logger/wandb.yaml: quiet), so
    that nothing but what a user can act on follows dfd's closing line."""
    wandb = sys.modules.get("wandb")  # only loaded when a W&B logger was configured
    if wandb is None or wandb.run is None:
        return
    run = wandb.run
    wandb.finish()
    if run.offline:
        print(f"W&B run saved offline; to upload it: wandb sync {run.settings.sync_dir}")


def distributed_world(trainer: L.Trainer) -> dict[str, Any]:
    """The processes a run trains on, for run_info.json: what a user checks after a
    multi-node launch (every node joined, each with its devices)."""
    environment = getattr(trainer.strategy, "cluster_environment", None)  # DDP's launcher
    return {
        "world_size": trainer.world_size,
        "num_nodes": trainer.num_nodes,
        "devices_per_node": trainer.num_devices,
        "strategy": type(trainer.strategy).__name__,
        "cluster_environment": None if environment is None else type(environment).__name__,
    }


@rank_zero_only
def record_run(cfg: DictConfig, loggers: list[Any], trainer: L.Trainer | None = None) -> None:
    world = None if trainer is None else distributed_world(trainer)
    save_run_info(Path(cfg.paths.output_dir), cfg.get("seed"), Path(cfg.paths.root_dir), world)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)


@rank_zero_only
def report_validation_people(datamodule: FaceClipDataModule) -> None:
    """Warn when validation shows people training shows (checkpoint choice would reward
    memorising them); say so when the manifest names no identities."""
    datamodule.setup("fit")
    rows = {split: getattr(data, "clips", data).rows for split, data in datamodule.datasets.items()}
    if "train" in rows and "val" in rows:
        warn, message = identity_message(identity_overlap(rows["train"], rows["val"]))
        (log.warning if warn else log.info)(message)


def optimized_value(trainer: L.Trainer, name: str | None) -> float | None:
    """The value a sweeper optimizes: the best checkpoint's score when the checkpoint
    monitors `name` (the model the run keeps), else the last value logged."""
    checkpoint = trainer.checkpoint_callback
    if (
        checkpoint is not None
        and checkpoint.monitor == name
        and checkpoint.best_model_score is not None
    ):
        return float(checkpoint.best_model_score)
    value = trainer.callback_metrics.get(name) if name else None
    return None if value is None else float(value)


def test_best_checkpoint(
    cfg: DictConfig,
    trainer: L.Trainer,
    module: DeepfakeDetectionModule,
    datamodule: FaceClipDataModule,
    best: str,
    loggers: Sequence[Any],
) -> dict[str, float]:
    """Rank 0 scores the test split with the checkpoint chosen on validation (the threshold
    chosen on validation too) and writes `<run>/eval/<data>/`, and the same for the test split
    of each of `test_datasets` (the cross-dataset protocol); returns the `test/` metrics."""
    if best:
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    else:
        log.warning(
            "no best checkpoint (no ModelCheckpoint or no validation): testing the last weights"
        )
    datamodule.setup()
    if "test" not in datamodule.datasets:
        log.warning("no test split in %s: nothing to test", datamodule.hparams.manifest_path)
        return {}
    run = RunDir(Path(cfg.paths.output_dir))
    name = str(cfg.data.get("name", "data"))
    others = [other for other in cfg.get("test_datasets") or [] if other != name]
    test_sets = {
        name: datamodule.datasets["test"],
        **test_splits(test_datamodules(dataset_manifests(cfg, others), datamodule.hparams)),
    }
    results = report_checkpoint(
        cfg,
        module,
        datamodule,
        datamodule.datasets.get("val"),
        test_sets,
        run,
        best or None,
        trainer.strategy.root_device,
        precision=cfg.trainer.get("precision"),
        history_path=run.history,
        loggers=loggers,
        own_data=name,
    )
    return flat_metrics("test", results[name].metrics)


def build_module_and_data(cfg: DictConfig) -> tuple[DeepfakeDetectionModule, FaceClipDataModule]:
    """The module, then the datamodule asked for the batch entries its detector trains on
    besides the label (`Detector.extra_targets`: blend masks, a second view, method classes by
    `Detector.methods`) and in the order it trains on (`Detector.method_groups`), so no user
    sets them; the detector's input checked against the clips."""
    module: DeepfakeDetectionModule = instantiate(cfg.module)
    targets, methods = sorted(module.detector.extra_targets), list(module.detector.methods)
    data = cfg.datamodule  # checked here, outside Hydra's instantiate, for a one-line error
    check_targets(targets, data.online_self_blend, data.pair_self_blend, methods)
    datamodule: FaceClipDataModule = instantiate(
        cfg.datamodule,
        targets=targets,
        methods=methods,
        method_groups=module.detector.method_groups,
        **method_group_settings(module.detector, data.batch_size, data.online_self_blend),
    )
    module.detector.check_input(datamodule.hparams.clip_len, datamodule.hparams.image_size)
    check_frame_stride(
        module.detector, Path(datamodule.hparams.manifest_path), cfg.data.get("name")
    )
    return module, datamodule


def method_group_settings(
    detector: Detector, batch_size: int, online_self_blend: float
) -> dict[str, float | int]:
    """For a detector trained on method groups of prepared fakes: online self-blending off and
    the batch size rounded down to whole groups, each change logged (none for the others)."""
    if not detector.method_groups:
        return {}
    size = len(detector.methods)
    settings = {"online_self_blend": 0.0, "batch_size": max(size, batch_size - batch_size % size)}
    changes = [
        f"datamodule.{name} {before} -> {settings[name]}"
        for name, before in (("online_self_blend", online_self_blend), ("batch_size", batch_size))
        if before != settings[name]
    ]
    if changes:
        log.info(
            "%s trains on groups of %d prepared clips (a real one and one per method): %s",
            detector.describe(),
            size,
            ", ".join(changes),
        )
    return settings


def check_frame_stride(detector: Detector, manifest: Path, data_name: str | None) -> None:
    """A detector of motion between consecutive frames (`InputSpec.max_frame_stride`) refuses
    frames prepared spread over each video, naming the dense preparation, before any training."""
    if detector.input_spec.max_frame_stride is None or not manifest.is_file():
        return  # no stated stride; a missing manifest is the datamodule's error to give
    stride, fps = frame_stride(ok_rows(read_manifest(manifest)))
    detector.input_spec.check_stride(detector.describe(), stride, fps, data_name or "<name>")


def train(cfg: DictConfig) -> float | None:
    """Fit on train, choose the checkpoint on val, then score test with it.

    Returns the value of `cfg.optimized_metric` (for sweepers such as Optuna).
    """
    quiet_library_noise()
    if HydraConfig.initialized():  # not a rank > 0 that joined its job (it gets the config)
        cfg = tag_sweep_job(resume_config(cfg))
        if not is_rank_above_zero():  # W&B logs from rank 0, which keeps the run's W&B id
            cfg = identify_wandb_run(cfg)
        share_job_config(cfg, Path(cfg.paths.output_dir))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    module, datamodule = build_module_and_data(cfg)
    callbacks = instantiate_each(cfg.get("callbacks")) + trial_callbacks(cfg)
    callbacks += [
        RandomStateCheckpoint(),
        SameConfigOnEveryRank(config_digest(cfg), cfg.paths.output_dir),
        EpochHistory(RunDir(Path(cfg.paths.output_dir)).history),
        ClipsPerRank(RunDir(Path(cfg.paths.output_dir)).ranks),
    ]
    loggers = instantiate_each(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    record_run(cfg, loggers, trainer)
    try:
        if cfg.get("train", True):
            report_validation_people(datamodule)
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
            if raise_if_pruned(trainer):  # an Optuna trial pruned: rank 0 raised TrialPruned
                return None
        metric = optimized_value(trainer, cfg.get("optimized_metric"))
        checkpoint = trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint is not None else ""
        metrics: dict[str, float] = {}
        if cfg.get("test", True) and trainer.is_global_zero:
            metrics = test_best_checkpoint(cfg, trainer, module, datamodule, best, loggers)
        finish_wandb()  # before the closing line: W&B prints as it ends
        if trainer.is_global_zero:
            score = checkpoint.best_model_score if checkpoint is not None else None
            print(
                closing_line(
                    Path(cfg.paths.output_dir),
                    metrics,
                    None if score is None else (checkpoint.monitor, float(score)),
                )
            )
    finally:
        finish_wandb()
    return metric
