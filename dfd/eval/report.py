"""Per-video score tables and metrics files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from dfd.eval.aggregate import aggregate_by_video


def video_score_table(predictions: dict[str, torch.Tensor], video_ids: list[str],
                      aggregation: str = "mean", threshold: float = 0.5) -> pd.DataFrame:
    """One row per video: id, label, aggregated fake score, clip count and the prediction."""
    videos, scores, labels = aggregate_by_video(predictions["score"], predictions["label"],
                                                predictions["video_idx"], aggregation)
    counts = torch.bincount(predictions["video_idx"], minlength=len(video_ids))[videos]
    table = pd.DataFrame({
        "video_id": [video_ids[i] for i in videos.tolist()],
        "label": labels.tolist(),
        "score": scores.tolist(),
        "num_clips": counts.tolist(),
    })
    table["prediction"] = (table["score"] >= threshold).astype(int)
    return table.sort_values("video_id").reset_index(drop=True)


def write_report(table: pd.DataFrame, metrics: Mapping[str, object], output_dir: Path,
                 prefix: str = "test") -> tuple[Path, Path]:
    """Write `<prefix>_video_scores.csv` and `<prefix>_metrics.json` into output_dir."""
    output_dir.mkdir(parents=True, exist_ok=True)
    scores_path = output_dir / f"{prefix}_video_scores.csv"
    metrics_path = output_dir / f"{prefix}_metrics.json"
    table.to_csv(scores_path, index=False)
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return scores_path, metrics_path
