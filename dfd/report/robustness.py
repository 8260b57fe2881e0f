"""The robustness protocol: a test split scored clean and under every (perturbation, severity),
with video-level AUROC, AP and accuracy per setting in `robustness.csv` and `robustness.png`.

Perturbations change the raw face crops before the dataset's resize (see
`dfd.eval.perturbations` for the kinds and their severity scales).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from dfd.data.dataset import FaceClipDataset
from dfd.eval.metrics import binary_metrics
from dfd.eval.perturbations import SEVERITY_NAMES, Perturbation, check_perturbations
from dfd.eval.scoring import ClipScores, ScoringSettings, score_dataset
from dfd.report.figures import DPI
from dfd.report.tables import clip_table
from dfd.runs import EvalDir

log = logging.getLogger(__name__)

COLUMNS = (
    "perturbation",
    "level",
    "severity",
    "video_auroc",
    "video_ap",
    "video_acc",
    "num_videos",
    "seconds",
)
CLEAN_COLOUR = "#333333"
# (colour, marker) per perturbation line; no grey, the colour of the clean and chance lines
LINE_STYLES = (
    ("#3b2a7a", "o"),
    ("#1a9988", "s"),
    ("#b07d12", "^"),
    ("#8e44ad", "D"),
    ("#2c7a2c", "v"),
    ("#c0392b", "P"),
    ("#2166ac", "X"),
)


def perturbed_dataset(
    dataset: FaceClipDataset, perturb: Callable[[np.ndarray], np.ndarray]
) -> FaceClipDataset:
    """A copy of `dataset` (same rows, clip length, transform) with raw clips through `perturb`."""
    return FaceClipDataset(
        dataset.rows,
        dataset.manifest_dir,
        dataset.clip_len,
        dataset.transform,
        random_augment=dataset.random_augment,
        perturb=perturb,
        clips_per_track=dataset.clips_per_track,
    )


def video_metrics(
    dataset: FaceClipDataset,
    scorer: Callable[[FaceClipDataset], ClipScores],
    settings: ScoringSettings,
    threshold: float,
) -> dict[str, float]:
    """Score `dataset` with `scorer` and return video AUROC, AP, accuracy, count and seconds."""
    start = time.perf_counter()
    videos = settings.videos(clip_table(dataset, scorer(dataset)), threshold)
    metrics = binary_metrics(videos["score"].to_numpy(), videos["label"].to_numpy(), threshold)
    return {
        "video_auroc": metrics["auroc"],
        "video_ap": metrics["ap"],
        "video_acc": metrics["acc"],
        "num_videos": len(videos),
        "seconds": round(time.perf_counter() - start, 3),
    }


def run_robustness(
    detector: nn.Module,
    dataset: FaceClipDataset,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    perturbations: Mapping[str, Sequence[float]],
    out_dir: Path,
    settings: ScoringSettings | None = None,
    threshold: float = 0.5,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Score `dataset` clean once and under every (perturbation, severity); write the table.

    Scored by the evaluation's `settings` (precision, batch size, aggregation, clips per track)
    without its test-time views (flips, crops): the curves measure the detector, not the views.

    One row per setting, in the given order, with the columns of `COLUMNS`: `level` is 0 for
    the clean row repeated under each perturbation (its severity is NaN) and 1, 2, ... for the
    severities as listed (list them mild to strong). Writes `robustness.csv` and
    `robustness.png` to `out_dir`. Unknown names or invalid severities raise ValueError before
    anything is scored.
    """
    check_perturbations(perturbations)
    settings = replace(settings or ScoringSettings(), tta=(), crops=1)

    def scorer(data: FaceClipDataset) -> ClipScores:
        return score_dataset(detector, data, normalize, settings, device, num_workers)

    total = 1 + sum(len(severities) for severities in perturbations.values())
    clean = video_metrics(dataset, scorer, settings, threshold)
    log.info(
        "robustness 1/%d clean: video AUROC %.4f (%.1f s)",
        total,
        clean["video_auroc"],
        clean["seconds"],
    )
    rows, done = [], 1
    for name, severities in perturbations.items():
        rows.append({"perturbation": name, "level": 0, "severity": np.nan, **clean})
        for level, severity in enumerate(severities, start=1):
            done += 1
            perturb = Perturbation(name, float(severity))
            result = video_metrics(perturbed_dataset(dataset, perturb), scorer, settings, threshold)
            log.info(
                "robustness %d/%d %s %g: video AUROC %.4f (%.1f s)",
                done,
                total,
                name,
                severity,
                result["video_auroc"],
                result["seconds"],
            )
            rows.append(
                {"perturbation": name, "level": level, "severity": float(severity), **result}
            )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(EvalDir(out_dir).robustness_table, index=False)
    plot_robustness(table, EvalDir(out_dir).robustness_plot)
    log.info("robustness table and plot written to %s", out_dir)
    return table


def _legend_label(name: str, severities: pd.Series) -> str:
    values = ", ".join(f"{value:g}" for value in severities)
    return f"{SEVERITY_NAMES.get(name, name)}: {values}"


def plot_robustness(table: pd.DataFrame, path: Path) -> Path:
    """Video AUROC against severity level, one line per perturbation, clean AUROC dashed.

    The x axis is the level (0 = clean); the legend lists each perturbation's severity values.
    """
    figure = Figure(figsize=(9.0, 4.8), layout="constrained")
    ax = figure.subplots()
    clean = table.loc[table["level"] == 0, "video_auroc"]
    clean_auroc = float(clean.iloc[0]) if len(clean) else np.nan
    if np.isfinite(clean_auroc):
        ax.axhline(
            clean_auroc,
            color=CLEAN_COLOUR,
            linestyle="--",
            linewidth=1.2,
            label=f"clean: {clean_auroc:.3f}",
        )
    else:
        ax.text(
            0.5,
            0.5,
            "AUROC undefined: the test videos hold one class",
            ha="center",
            color="#555555",
            transform=ax.transAxes,
        )
    ax.axhline(0.5, color="#999999", linestyle=":", linewidth=1.0, label="chance")
    for i, (name, rows) in enumerate(table.groupby("perturbation", sort=False)):
        rows = rows.sort_values("level")
        colour, marker = LINE_STYLES[i % len(LINE_STYLES)]
        ax.plot(
            rows["level"],
            rows["video_auroc"],
            marker=marker,
            linewidth=1.8,
            color=colour,
            label=_legend_label(str(name), rows.loc[rows["level"] > 0, "severity"]),
        )
    levels = range(int(table["level"].max()) + 1) if len(table) else range(1)
    ax.set_xticks(list(levels), ["clean", *(str(level) for level in levels[1:])])
    ax.set_xlabel("severity level (severity values per perturbation in the legend)")
    ax.set_ylabel("video AUROC")
    aurocs = table["video_auroc"].to_numpy(float)
    low = np.nanmin(aurocs) if np.isfinite(aurocs).any() else 0.5
    ax.set_ylim(min(0.45, low - 0.05), 1.01)
    ax.grid(alpha=0.3)
    ax.set_title("Video AUROC under perturbations of the face crops")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, facecolor="white")
    return path
