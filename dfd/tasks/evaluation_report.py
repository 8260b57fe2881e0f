"""An evaluation run: threshold on validation, every test set scored and reported, metrics to
the loggers (W&B also gets the figures and a per-video table), a summary table on the console."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf
from rich import box
from rich.console import Console
from rich.table import Table

from dfd.data.datamodule import FaceClipDataModule
from dfd.data.dataset import FaceClipDataset
from dfd.eval.scoring import ScoringSettings
from dfd.module import DeepfakeDetectionModule
from dfd.report.wandb_report import log_evaluation_to_wandb
from dfd.runs import RunDir
from dfd.tasks.evaluation import (
    Scorer,
    TestResult,
    evaluate_test_set,
    flat_metrics,
    operating_threshold,
    read_history,
    write_summary,
)


def evaluation_settings(cfg: DictConfig, checkpoint: str | None) -> dict[str, Any]:
    """The `evaluation` config group as plain values, with the checkpoint it scores."""
    settings = OmegaConf.to_container(cfg.evaluation, resolve=True)
    settings["checkpoint"] = checkpoint
    return settings


def report_checkpoint(
    cfg: DictConfig,
    module: DeepfakeDetectionModule,
    datamodule: FaceClipDataModule,
    val: FaceClipDataset | None,
    test_sets: Mapping[str, FaceClipDataset],
    run: RunDir,
    checkpoint: str | None,
    device: torch.device | str,
    precision: str | int | None = None,
    history_path: Path | None = None,
    config_yaml: str | None = None,
    loggers: Sequence[Any] = (),
    own_data: str | None = None,
    threshold_source: str = "val",
) -> dict[str, TestResult]:
    """Choose the threshold on `val` (`threshold.json`, `val_videos.csv`), then score, export
    and report every test set (`eval/<name>/` of `run`), and write the summary across them.

    Metrics go to the loggers under `test/` for the run's own data (`own_data`) and
    `test_<name>/` for other datasets; W&B also gets the figures and a per-video table.
    """
    settings = evaluation_settings(cfg, checkpoint)
    scorer = Scorer(
        module.detector,
        datamodule.normalize,
        device,
        ScoringSettings.from_evaluation(settings, precision, datamodule.hparams.batch_size),
        num_workers=datamodule.hparams.num_workers,
    )
    threshold, val_videos = operating_threshold(scorer, val, settings, threshold_source)
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    run.threshold.write_text(json.dumps(threshold, indent=2))
    if val_videos is not None:  # what the threshold was chosen on, for anyone to check
        val_videos.to_csv(run.val_videos, index=False)
    config_yaml = config_yaml if config_yaml is not None else OmegaConf.to_yaml(cfg, resolve=True)
    history = read_history(history_path)
    results = {}
    for name, dataset in test_sets.items():
        result = evaluate_test_set(
            scorer, name, dataset, threshold, settings, run.evaluation(name), config_yaml, history
        )
        results[name] = result
        prefix = "test" if name == own_data else f"test_{name}"
        log_results(loggers, prefix, result)
    print_summary(write_summary(run, results), run.eval_dir)
    return results


def log_results(loggers: Sequence[Any], prefix: str, result: TestResult) -> None:
    """Metrics to every logger; W&B also gets the dashboard and the per-video table."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            log_evaluation_to_wandb(
                logger.experiment,
                prefix,
                result.metrics,
                result.figures,
                result.videos,
                result.clips,
            )
        else:
            logger.log_metrics(flat_metrics(prefix, result.metrics))
            logger.save()


def print_summary(table: pd.DataFrame, out_root: Path) -> None:
    """The summary across test sets as a console table."""
    view = Table(title=f"evaluation -> {out_root}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in (
        "test set",
        "videos",
        "video AUC [95% CI]",
        "AP",
        "EER",
        "acc",
        "clip AUC",
        "threshold",
    ):
        view.add_column(column, justify="left" if column == "test set" else "right", no_wrap=True)
    for row in table.itertuples(index=False):
        view.add_row(
            str(row.dataset),
            str(row.videos),
            f"{row.video_auroc:.3f} [{row.auroc_ci_low:.3f}, {row.auroc_ci_high:.3f}]",
            f"{row.video_ap:.3f}",
            f"{row.video_eer:.3f}",
            f"{row.video_acc:.3f}",
            f"{row.clip_auroc:.3f}",
            f"{row.threshold:.3f}",
        )
    console = Console()
    console.width = max(console.width, 110)  # logs and pipes default to 80 columns
    console.print(view)
