"""Evaluation results to a Weights & Biases run: dashboard images, summary metrics, video table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import wandb

from dfd.report.figures import representative_frame

LEVELS = ("video", "clip", "frame")
TABLE_COLUMNS = ("video_id", "label", "score", "prediction")
OPTIONAL_COLUMNS = ("num_clips", "num_faces", "group", "method")


def summary_values(prefix: str, metrics: Mapping[str, object]) -> dict[str, object]:
    """Flat summary keys: `<prefix>/<level>_<metric>`, CI bounds as `..._ci_low`/`..._ci_high`.

    The threshold goes under `<prefix>/threshold` (with `_rule` and `_chosen_on`), the video
    count under `<prefix>/num_videos`. Non-finite values are left out.
    """
    values: dict[str, object] = {}
    for level in LEVELS:
        for name, value in (metrics.get(level) or {}).items():
            values[f"{prefix}/{level}_{name}"] = value
    for key, (low, high) in (metrics.get("ci") or {}).items():
        values[f"{prefix}/{key}_ci_low"] = low
        values[f"{prefix}/{key}_ci_high"] = high
    threshold = metrics.get("threshold") or {}
    for key, suffix in (("value", ""), ("rule", "_rule"), ("chosen_on", "_chosen_on")):
        if threshold.get(key) is not None:
            values[f"{prefix}/threshold{suffix}"] = threshold[key]
    if metrics.get("num_videos") is not None:
        values[f"{prefix}/num_videos"] = metrics["num_videos"]
    plain = {key: _plain(value) for key, value in values.items()}
    return {
        key: value
        for key, value in plain.items()
        if not (isinstance(value, float) and not math.isfinite(value))
    }


def video_table(videos: pd.DataFrame, clips: pd.DataFrame) -> wandb.Table:
    """One row per video with a face thumbnail (middle crop of its highest-scoring clip)."""
    columns = [*TABLE_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in videos)]
    table = wandb.Table(columns=[*columns, "face"])
    for row in videos[columns].itertuples(index=False):
        record = dict(zip(columns, row, strict=True))
        crop = representative_frame(clips, record["video_id"], highest=True)
        thumbnail = wandb.Image(str(crop)) if crop is not None and crop.is_file() else None
        table.add_data(*(_plain(record[c]) for c in columns), thumbnail)
    return table


def _plain(value: object) -> object:
    """Numpy scalars as Python ones, so W&B infers the column types."""
    return value.item() if hasattr(value, "item") else value


def log_evaluation_to_wandb(
    run: wandb.Run,
    prefix: str,
    metrics: Mapping[str, object],
    figures: Mapping[str, Path],
    videos: pd.DataFrame,
    clips: pd.DataFrame,
) -> None:
    """Log the dashboard PNGs as images, the metrics to the run summary and the video table.

    Images go under `<prefix>/figures/<name>` and the table under `<prefix>/videos`, in one
    `run.log` call; summary keys are those of `summary_values`.
    """
    logged: dict[str, object] = {
        f"{prefix}/figures/{name}": wandb.Image(str(path), caption=name.replace("_", " "))
        for name, path in figures.items()
    }
    logged[f"{prefix}/videos"] = video_table(videos, clips)
    run.log(logged)
    run.summary.update(summary_values(prefix, metrics))
