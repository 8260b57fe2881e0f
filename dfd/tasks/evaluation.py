"""Evaluate a detector the honest way: the threshold chosen on validation and applied unchanged
to every test set; metrics at frame, clip and video level with bootstrap intervals; per-video,
per-clip and per-frame exports; the dashboard, Grad-CAM panels, robustness curves and one
HTML report per test set, plus a summary across test sets.

Results of a test set go to the run's `eval/<dataset>/` (`dfd.runs.EvalDir`): videos.csv, clips.csv, frames.csv (frame
models), metrics.json, figures/*.png, gradcam/*.png, robustness.csv/png and report.html.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from dfd.data.dataset import FaceClipDataset
from dfd.eval.bootstrap import bootstrap_ci
from dfd.eval.by_method import metrics_by_method
from dfd.eval.metrics import binary_metrics
from dfd.eval.scoring import ScoringSettings, score_dataset
from dfd.eval.thresholds import choose_threshold
from dfd.report.figures import write_dashboard
from dfd.report.gradcam import write_gradcam_panels
from dfd.report.html import write_html_report
from dfd.report.robustness import run_robustness
from dfd.report.tables import clip_table, frame_table
from dfd.runs import EvalDir, RunDir

log = logging.getLogger(__name__)

Normalize = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Scorer:
    """What scoring needs besides the data: the detector, its input normalization, the device,
    the scoring settings (test-time views, precision, batch size, aggregation) and the loader
    workers."""

    detector: nn.Module
    normalize: Normalize
    device: torch.device | str = "cpu"
    settings: ScoringSettings = field(default_factory=ScoringSettings)
    num_workers: int = 0

    def clips(self, dataset: FaceClipDataset) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """(clips table, frames table or None) of every clip in `dataset`."""
        scored = score_dataset(
            self.detector, dataset, self.normalize, self.settings, self.device, self.num_workers
        )
        return clip_table(dataset, scored), frame_table(dataset, scored)


@dataclass
class TestResult:
    """One test set's tables and metrics, and the files written for it."""

    name: str
    videos: pd.DataFrame
    clips: pd.DataFrame
    frames: pd.DataFrame | None
    metrics: dict[str, Any]
    folder: Path
    figures: dict[str, Path] = field(default_factory=dict)


def operating_threshold(
    scorer: Scorer, val: FaceClipDataset | None, settings: Mapping[str, Any], source: str = "val"
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The decision threshold by `settings.threshold.rule`, chosen on the validation videos
    (`fixed` and a missing validation split use `settings.threshold.value`), and the scored
    validation videos it was chosen on (None when none were scored)."""
    rule, value = settings["threshold"]["rule"], float(settings["threshold"]["value"])
    if rule == "fixed":
        return {"rule": "fixed", "value": value, "chosen_on": "config"}, None
    if val is None:
        log.warning(
            "no validation split to choose the %s threshold on: using the fixed %.3f", rule, value
        )
        return {"rule": "fixed", "value": value, "chosen_on": "config (no validation split)"}, None
    clips, _ = scorer.clips(val)
    videos = scorer.settings.videos(clips)
    chosen = choose_threshold(videos["score"], videos["label"], rule)
    videos["prediction"] = (videos["score"] >= chosen).astype(int)
    return {
        "rule": rule,
        "value": chosen,
        "chosen_on": source,
        "val_videos": len(videos),
        "val_video_auroc": binary_metrics(videos["score"], videos["label"], chosen)["auroc"],
    }, videos


def confidence_intervals(videos: pd.DataFrame, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Bootstrap intervals of video AUROC and AP, by group when there are enough groups."""
    boot = settings["bootstrap"]
    groups = None
    unit = "videos"
    if boot["by_group"] and "group" in videos:
        count = videos["group"].nunique()
        if count >= boot["min_groups"]:
            groups, unit = videos["group"].to_numpy(), f"groups ({count})"
        else:
            unit = f"videos (only {count} groups, fewer than {boot['min_groups']})"
    try:
        intervals = bootstrap_ci(
            videos["score"],
            videos["label"],
            groups=groups,
            resamples=boot["resamples"],
            level=boot["level"],
            seed=boot["seed"],
        )
    except ValueError as error:  # one class only: no ranking metric, no interval
        return {"ci": {}, "ci_note": str(error)}
    return {
        "ci": {f"video_{name}": list(bounds) for name, bounds in intervals.items()},
        "ci_level": boot["level"],
        "ci_resampled": unit,
    }


def summarize(
    name: str,
    clips: pd.DataFrame,
    frames: pd.DataFrame | None,
    threshold: Mapping[str, Any],
    settings: Mapping[str, Any],
    scoring: ScoringSettings,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The per-video table and the metrics of one scored test set at the given threshold."""
    value = threshold["value"]
    videos = scoring.videos(clips, value)
    metrics: dict[str, Any] = {
        "dataset": name,
        "video": binary_metrics(videos["score"], videos["label"], value),
        "clip": binary_metrics(clips["score"], clips["label"], value),
    }
    if frames is not None:
        metrics["frame"] = binary_metrics(frames["score"], frames["label"], value)
    metrics |= confidence_intervals(videos, settings)
    metrics["constant_video_scores"] = bool(len(videos) > 1 and videos["score"].nunique() == 1)
    metrics["warnings"] = []
    if metrics["constant_video_scores"]:
        warning = (
            f"all {len(videos)} videos scored {videos['score'].iloc[0]:.4f}: the detector's "
            "output does not depend on its input, so its AUC of 0.5 ranks nothing"
        )
        metrics["warnings"].append(warning)
        log.warning("%s: %s", name, warning)
    metrics["by_method"] = metrics_by_method(videos, clips, value)
    metrics |= {
        "threshold": dict(threshold),
        "aggregation": scoring.aggregation,
        "aggregation_options": dict(scoring.aggregation_options),
        "tta": list(scoring.tta),
        "views": {
            "clips": scoring.clips,
            "crops": scoring.crops,
            "reduce": scoring.view_reduce,
            "space": scoring.view_space,
        },
        "precision": scoring.precision,
        "num_videos": len(videos),
        "num_clips": len(clips),
        "num_frames": None if frames is None else len(frames),
        "num_fake_videos": int(videos["label"].sum()),
    }
    return videos, metrics


def write_exports(
    folder: EvalDir,
    videos: pd.DataFrame,
    clips: pd.DataFrame,
    frames: pd.DataFrame | None,
    metrics: Mapping[str, Any],
) -> None:
    """videos.csv, clips.csv, frames.csv (when there are frame scores) and metrics.json."""
    folder.path.mkdir(parents=True, exist_ok=True)
    videos.to_csv(folder.videos, index=False)
    clips.to_csv(folder.clips, index=False)
    if frames is not None:
        frames.to_csv(folder.frames, index=False)
    folder.metrics.write_text(json.dumps(metrics, indent=2, default=_plain))


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else str(value)


def read_history(path: Path | None) -> pd.DataFrame | None:
    """The run's per-epoch history (`EpochHistory`), or None."""
    if path is None or not Path(path).is_file():
        return None
    return pd.read_csv(path)


def evaluate_test_set(
    scorer: Scorer,
    name: str,
    dataset: FaceClipDataset,
    threshold: Mapping[str, Any],
    settings: Mapping[str, Any],
    folder: EvalDir,
    config_yaml: str = "",
    history: pd.DataFrame | None = None,
) -> TestResult:
    """Score one test set and write everything the settings ask for into `folder`."""
    started = time.perf_counter()
    clips, frames = scorer.clips(dataset)
    videos, metrics = summarize(name, clips, frames, threshold, settings, scorer.settings)
    metrics["checkpoint"] = settings.get("checkpoint")
    write_exports(folder, videos, clips, frames, metrics)
    result = TestResult(name, videos, clips, frames, metrics, folder.path)
    if settings["report"]:
        result.figures = write_dashboard(folder.figures, videos, clips, frames, metrics, history)
        extras = extra_sections(scorer, dataset, result, settings)
        write_html_report(
            folder.report,
            f"dfd evaluation: {name}",
            metrics,
            result.figures,
            config_yaml,
            extras,
            videos,
        )
    log.info(
        "%s: %d videos scored and reported in %.0f s -> %s",
        name,
        len(videos),
        time.perf_counter() - started,
        folder.path,
    )
    return result


def extra_sections(
    scorer: Scorer, dataset: FaceClipDataset, result: TestResult, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Grad-CAM panels and robustness curves, as the report's extra sections."""
    extras: dict[str, Any] = {}
    cam = settings["gradcam"]
    if cam["samples"] or cam["misclassified"]:
        wrong = result.videos[result.videos["prediction"] != result.videos["label"]]
        extras["gradcam"] = write_gradcam_panels(
            scorer.detector,
            dataset,
            scorer.normalize,
            result.clips,
            EvalDir(result.folder).gradcam,
            count=cam["samples"],
            misclassified=wrong.head(cam["misclassified"]),
            target_layer=cam["target_layer"],
        )
    robust = settings["robustness"]
    if robust["enabled"]:
        run_robustness(
            scorer.detector,
            dataset,
            scorer.normalize,
            robust["perturbations"],
            result.folder,
            scorer.settings,
            threshold=result.metrics["threshold"]["value"],
            device=scorer.device,
        )
        extras["robustness"] = EvalDir(result.folder).robustness_plot
    return extras


def summary_table(results: Mapping[str, TestResult]) -> pd.DataFrame:
    """One row per test set: video AUROC with its interval, AP, EER, accuracy at the threshold."""
    rows = []
    for name, result in results.items():
        video, ci = result.metrics["video"], result.metrics["ci"].get("video_auroc", [math.nan] * 2)
        rows.append(
            {
                "dataset": name,
                "videos": result.metrics["num_videos"],
                "video_auroc": video["auroc"],
                "auroc_ci_low": ci[0],
                "auroc_ci_high": ci[1],
                "video_ap": video["ap"],
                "video_eer": video["eer"],
                "video_acc": video["acc"],
                "clip_auroc": result.metrics["clip"]["auroc"],
                "frame_auroc": result.metrics.get("frame", {}).get("auroc", math.nan),
                "threshold": result.metrics["threshold"]["value"],
            }
        )
    return pd.DataFrame(rows)


def write_summary(run: RunDir, results: Mapping[str, TestResult]) -> pd.DataFrame:
    """summary.csv and summary.md across test sets (the cross-dataset table)."""
    table = summary_table(results)
    run.eval_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(run.summary_csv, index=False)
    header = "| " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    lines += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    run.summary_md.write_text("\n".join(lines) + "\n")
    return table


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def flat_metrics(prefix: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """`<prefix>/<level>_<name>` scalars (plus interval bounds and threshold) for loggers."""
    flat = {
        f"{prefix}/{level}_{name}": float(value)
        for level in ("video", "clip", "frame")
        for name, value in metrics.get(level, {}).items()
    }
    for name, (low, high) in metrics.get("ci", {}).items():
        flat[f"{prefix}/{name}_ci_low"], flat[f"{prefix}/{name}_ci_high"] = float(low), float(high)
    flat[f"{prefix}/threshold"] = float(metrics["threshold"]["value"])
    flat[f"{prefix}/num_videos"] = float(metrics["num_videos"])
    return flat
