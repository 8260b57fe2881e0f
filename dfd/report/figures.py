"""Evaluation dashboard figures: one PNG per function, drawn from the per-video/clip/frame tables.

Every figure is its own `matplotlib.figure.Figure` (Agg canvas, no pyplot state), saved and
released. Real videos are always drawn in blue and fake ones in red.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from dfd.eval.metrics import pr_points, roc_points

REAL_COLOUR = "#2166ac"
FAKE_COLOUR = "#c0392b"
CLASS_COLOURS = {0: REAL_COLOUR, 1: FAKE_COLOUR}
CLASS_NAMES = {0: "real", 1: "fake"}
LEVEL_COLOURS = {"video": "#3b2a7a", "clip": "#1a9988"}
LOWER_IS_BETTER_COLOUR = "#7a5c2a"
THRESHOLD_COLOUR = "#333333"
CURVE_COLOURS = ("#3b2a7a", "#1a9988", "#b07d12", "#7f7f7f", "#8e44ad", "#2c7a2c")
DPI = 120
METRIC_LABELS = {
    "auroc": "AUROC",
    "ap": "AP",
    "acc": "Accuracy",
    "balanced_acc": "Balanced acc.",
    "f1": "F1",
    "eer": "EER",
    "log_loss": "Log loss",
    "brier": "Brier",
    "ece": "ECE",
}
HIGHER_IS_BETTER = ("auroc", "ap", "acc", "balanced_acc", "f1")
LOWER_IS_BETTER = ("eer", "brier", "ece", "log_loss")


# ----------------------------------------------------------------------------- helpers


def _has_both_classes(table: pd.DataFrame | None) -> bool:
    return table is not None and len(table) > 0 and table["label"].nunique() == 2


def threshold_value(metrics: Mapping[str, object]) -> float:
    """The decision threshold recorded in `metrics["threshold"]["value"]` (0.5 when absent)."""
    threshold = metrics.get("threshold") or {}
    return float(threshold.get("value", 0.5)) if isinstance(threshold, Mapping) else 0.5


def threshold_text(metrics: Mapping[str, object]) -> str:
    """'threshold 0.430 (eer, chosen on val)', or just the value when the rule is unknown."""
    threshold = metrics.get("threshold") or {}
    text = f"threshold {threshold_value(metrics):.3f}"
    if isinstance(threshold, Mapping) and threshold.get("rule"):
        where = f", chosen on {threshold['chosen_on']}" if threshold.get("chosen_on") else ""
        text += f" ({threshold['rule']}{where})"
    return text


def short_id(video_id: object, width: int = 24) -> str:
    """A video id cut in the middle to at most `width` characters, `$` escaped for matplotlib."""
    text = str(video_id)
    if len(text) > width:
        keep = (width - 1) // 2
        text = f"{text[:keep]}…{text[-(width - 1 - keep) :]}"
    return text.replace("$", r"\$")


def representative_frame(
    clips: pd.DataFrame, video_id: object, highest: bool = True
) -> Path | None:
    """Middle face crop of the video's highest-scoring clip (lowest when `highest` is False)."""
    rows = clips[clips["video_id"] == video_id]
    if rows.empty:
        return None
    row = rows.loc[rows["score"].idxmax() if highest else rows["score"].idxmin()]
    paths = [p for p in str(row["frames"]).split(";") if p]
    return Path(paths[len(paths) // 2]) if paths else None


def _save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, facecolor="white")
    figure.clear()
    return path


def _note(ax: Axes, text: str) -> None:
    """Replace an axes' content with a centred message (for undefined or empty plots)."""
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        fontsize=11,
        color="#555555",
        transform=ax.transAxes,
        wrap=True,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _ci_text(metrics: Mapping[str, object], key: str) -> str:
    interval = (metrics.get("ci") or {}).get(key)
    return f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""


def _metric(metrics: Mapping[str, object], level: str, name: str) -> float | None:
    value = (metrics.get(level) or {}).get(name)
    return None if value is None else float(value)


# ----------------------------------------------------------------------------- figures


def plot_roc(
    path: Path, videos: pd.DataFrame, clips: pd.DataFrame | None, metrics: Mapping[str, object]
) -> Path:
    """ROC curves at video and clip level; the legend gives each AUC (video with its 95% CI)."""
    figure = Figure(figsize=(5.6, 5.2), layout="constrained")
    ax = figure.subplots()
    drawn = False
    for level, table in (("video", videos), ("clip", clips)):
        if not _has_both_classes(table):
            continue
        fpr, tpr, _ = roc_points(table["score"].to_numpy(), table["label"].to_numpy())
        auc = _metric(metrics, level, "auroc")
        auc = float(np.trapezoid(tpr, fpr)) if auc is None else auc
        label = f"{level} (n={len(table)}) AUC {auc:.3f}{_ci_text(metrics, f'{level}_auroc')}"
        ax.plot(fpr, tpr, color=LEVEL_COLOURS[level], lw=2, label=label)
        drawn = True
    if not drawn:
        _note(ax, "ROC needs both real and fake videos")
    else:
        ax.plot([0, 1], [0, 1], ls=":", color="#999999", lw=1, label="chance")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
        ax.legend(loc="lower right", fontsize=9)
        ax.grid(alpha=0.3)
    ax.set(
        title="ROC curve",
        xlabel="False positive rate (real called fake)",
        ylabel="True positive rate (fakes caught)",
    )
    return _save(figure, path)


def plot_pr(
    path: Path, videos: pd.DataFrame, clips: pd.DataFrame | None, metrics: Mapping[str, object]
) -> Path:
    """Precision-recall curves (fake is the positive class) with AP and the chance level."""
    figure = Figure(figsize=(5.6, 5.2), layout="constrained")
    ax = figure.subplots()
    drawn = False
    for level, table in (("video", videos), ("clip", clips)):
        if not _has_both_classes(table):
            continue
        recall, precision, computed_ap = pr_points(
            table["score"].to_numpy(), table["label"].to_numpy()
        )
        ap = _metric(metrics, level, "ap")
        ap = computed_ap if ap is None else ap
        label = f"{level} (n={len(table)}) AP {ap:.3f}{_ci_text(metrics, f'{level}_ap')}"
        ax.step(recall, precision, where="pre", color=LEVEL_COLOURS[level], lw=2, label=label)
        ax.axhline(table["label"].mean(), color=LEVEL_COLOURS[level], ls=":", lw=1)
        drawn = True
    if not drawn:
        _note(ax, "Precision-recall needs both real and fake videos")
    else:
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower left", fontsize=9, title="dotted: share of fakes", title_fontsize=8)
        ax.grid(alpha=0.3)
    ax.set(
        title="Precision-recall curve",
        xlabel="Recall (fakes caught)",
        ylabel="Precision (flagged that are fake)",
    )
    return _save(figure, path)


def plot_confusion(path: Path, videos: pd.DataFrame, metrics: Mapping[str, object]) -> Path:
    """Video confusion matrix at the chosen threshold: counts and rates of each true class."""
    counts = np.zeros((2, 2), dtype=int)
    for (label, prediction), n in videos.groupby(["label", "prediction"]).size().items():
        counts[int(label), int(prediction)] = n
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros((2, 2)), where=totals > 0)
    figure = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for row in range(2):
        for col in range(2):
            ax.text(
                col,
                row,
                f"{counts[row, col]}\n{rates[row, col]:.1%}",
                ha="center",
                va="center",
                fontsize=13,
                color="white" if rates[row, col] > 0.55 else "black",
            )
    ticks = [f"{CLASS_NAMES[k]}\n(n={totals[k, 0]})" for k in (0, 1)]
    ax.set_xticks([0, 1], ["real", "fake"])
    ax.set_yticks([0, 1], ticks)
    for tick, k in zip(ax.get_yticklabels(), (0, 1), strict=True):
        tick.set_color(CLASS_COLOURS[k])
    for tick, k in zip(ax.get_xticklabels(), (0, 1), strict=True):
        tick.set_color(CLASS_COLOURS[k])
    ax.set(
        xlabel="Predicted",
        ylabel="True",
        title=f"Confusion matrix ({len(videos)} videos)\n{threshold_text(metrics)}",
    )
    figure.colorbar(image, ax=ax, label="share of the true class", shrink=0.8)
    return _save(figure, path)


def plot_metrics_bar(path: Path, metrics: Mapping[str, object]) -> Path:
    """Video-level metrics as bars (higher-is-better and lower-is-better apart), CI where given."""
    video = metrics.get("video") or {}
    groups = [
        (title, [n for n in names if video.get(n) is not None], colour)
        for title, names, colour in (
            ("Higher is better", HIGHER_IS_BETTER, LEVEL_COLOURS["video"]),
            ("Lower is better", LOWER_IS_BETTER, LOWER_IS_BETTER_COLOUR),
        )
    ]
    groups = [group for group in groups if group[1]]
    figure = Figure(figsize=(9.0, 3.8), layout="constrained")
    axes = figure.subplots(1, max(len(groups), 1), squeeze=False)[0]
    if not groups:
        _note(axes[0], "No video-level metrics")
    for ax, (title, names, colour) in zip(axes, groups, strict=False):
        values = np.array([float(video[n]) for n in names])
        errors = np.zeros((2, len(names)))
        for i, name in enumerate(names):
            interval = (metrics.get("ci") or {}).get(f"video_{name}")
            if interval:
                errors[:, i] = [values[i] - interval[0], interval[1] - values[i]]
        positions = np.arange(len(names))[::-1]
        ax.barh(positions, np.nan_to_num(values), color=colour, alpha=0.85)
        has_ci = errors.any(axis=0)
        if has_ci.any():
            ax.errorbar(
                values[has_ci],
                positions[has_ci],
                xerr=np.abs(errors[:, has_ci]),
                fmt="none",
                ecolor="black",
                capsize=4,
                lw=1.2,
            )
        top = max(1.0, float(np.nanmax(values)) * 1.15) if np.isfinite(values).any() else 1.0
        for y, value, upper in zip(positions, values, errors[1], strict=True):
            text = "n/a" if not np.isfinite(value) else f"{value:.3f}"
            x = (0 if not np.isfinite(value) else value + upper) + top * 0.02
            ax.text(x, y, text, va="center", fontsize=9)
        ax.set_yticks(positions, [METRIC_LABELS.get(n, n) for n in names])
        ax.set_xlim(0, top * 1.18)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("value")
        ax.grid(axis="x", alpha=0.3)
    count = metrics.get("num_videos")
    figure.suptitle(
        f"Video-level metrics{f' ({count} videos)' if count else ''}, 95% CI where computed"
    )
    return _save(figure, path)


def _error_rows(videos: pd.DataFrame, kind: str) -> pd.DataFrame:
    """False positives (real scored fake), highest first, or false negatives, lowest first."""
    if kind == "fp":
        return videos[(videos["label"] == 0) & (videos["prediction"] == 1)].sort_values(
            "score", ascending=False
        )
    return videos[(videos["label"] == 1) & (videos["prediction"] == 0)].sort_values("score")


def plot_error_grid(
    path: Path,
    videos: pd.DataFrame,
    clips: pd.DataFrame,
    metrics: Mapping[str, object],
    kind: str = "fp",
    limit: int = 8,
) -> Path:
    """Face crops of the worst false positives (`kind="fp"`) or false negatives (`"fn"`).

    Each panel is the middle frame of the video's highest-scoring clip (false positives) or
    lowest-scoring clip (false negatives), titled with the video id and its score.
    """
    if kind not in ("fp", "fn"):
        raise ValueError(f"kind must be 'fp' or 'fn', not {kind!r}")
    name = "false positives" if kind == "fp" else "false negatives"
    meaning = "real videos scored as fake" if kind == "fp" else "fake videos scored as real"
    rows = _error_rows(videos, kind)
    shown = rows.head(limit)
    title = f"Top {name}: {meaning}\n{len(shown)} of {len(rows)} shown, {threshold_text(metrics)}"
    if shown.empty:
        figure = Figure(figsize=(6.0, 2.6), layout="constrained")
        ax = figure.subplots()
        _note(ax, f"No {name} at this threshold")
        ax.set_title(f"Top {name}: none\n{threshold_text(metrics)}", fontsize=11)
        return _save(figure, path)
    columns = 4
    lines = math.ceil(len(shown) / columns)
    figure = Figure(figsize=(9.6, 2.55 * lines + 0.9), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    colour = CLASS_COLOURS[0 if kind == "fp" else 1]
    for ax, (_, video) in zip(axes, shown.iterrows(), strict=False):
        crop = representative_frame(clips, video["video_id"], highest=kind == "fp")
        if crop is not None and crop.is_file():
            with Image.open(crop) as image:
                ax.imshow(np.asarray(image.convert("RGB")))
        else:
            _note(ax, "crop missing")
        ax.set_title(
            f"{short_id(video['video_id'], 22)}\nscore {video['score']:.3f}",
            fontsize=9,
            color=colour,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(2)
    for ax in axes[len(shown) :]:
        ax.set_axis_off()
    figure.suptitle(title, fontsize=11)
    return _save(figure, path)


def _reliability(
    labels: np.ndarray, scores: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin mean score, share of fakes and count (empty bins dropped from the first two)."""
    index = np.clip((scores * bins).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    mean_score = np.bincount(index, weights=scores, minlength=bins)[filled] / counts[filled]
    share_fake = np.bincount(index, weights=labels, minlength=bins)[filled] / counts[filled]
    return mean_score, share_fake, counts


def plot_calibration(
    path: Path,
    videos: pd.DataFrame,
    clips: pd.DataFrame | None,
    metrics: Mapping[str, object],
    bins: int = 10,
) -> Path:
    """Reliability diagrams (share of fakes against mean score per bin) with bin counts below."""
    levels = [
        (level, table)
        for level, table in (("video", videos), ("clip", clips))
        if table is not None and len(table)
    ]
    figure = Figure(figsize=(5.0 * len(levels) + 0.4, 5.6), layout="constrained")
    axes = figure.subplots(2, len(levels), squeeze=False, sharex="col", height_ratios=[3, 1.2])
    edges = np.linspace(0, 1, bins + 1)
    for column, (level, table) in enumerate(levels):
        top, bottom = axes[0, column], axes[1, column]
        scores = table["score"].to_numpy(dtype=float)
        labels = table["label"].to_numpy(dtype=float)
        mean_score, share_fake, counts = _reliability(labels, scores, bins)
        top.plot([0, 1], [0, 1], ls=":", color="#999999", lw=1, label="perfectly calibrated")
        top.plot(
            mean_score, share_fake, marker="o", color=LEVEL_COLOURS[level], lw=2, label=f"{level}s"
        )
        ece = _metric(metrics, level, "ece")
        top.set_title(
            f"{level.capitalize()} level" + (f" (ECE {ece:.3f})" if ece is not None else ""),
            fontsize=10,
        )
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="Share of fakes in bin")
        top.legend(loc="upper left", fontsize=8)
        top.grid(alpha=0.3)
        bottom.bar(
            edges[:-1],
            counts,
            width=1 / bins,
            align="edge",
            color=LEVEL_COLOURS[level],
            alpha=0.6,
            edgecolor="white",
        )
        for x, n in zip(edges[:-1] + 0.5 / bins, counts, strict=True):
            if n:
                bottom.text(x, n, str(n), ha="center", va="bottom", fontsize=7)
        bottom.set_ylim(0, counts.max() * 1.3 + 1)
        bottom.set(xlabel="Mean predicted fake probability", ylabel="Count")
    figure.suptitle("Calibration (reliability diagram)")
    return _save(figure, path)


def plot_score_histogram(
    path: Path,
    videos: pd.DataFrame,
    clips: pd.DataFrame | None,
    metrics: Mapping[str, object],
    bins: int = 20,
) -> Path:
    """Score distributions of real and fake videos (and clips) with the decision threshold."""
    levels = [
        (level, table)
        for level, table in (("video", videos), ("clip", clips))
        if table is not None and len(table)
    ]
    figure = Figure(figsize=(5.2 * len(levels) + 0.4, 4.2), layout="constrained")
    axes = figure.subplots(1, len(levels), squeeze=False)[0]
    edges = np.linspace(0, 1, bins + 1)
    threshold = threshold_value(metrics)
    for ax, (level, table) in zip(axes, levels, strict=True):
        for label in (0, 1):
            scores = table.loc[table["label"] == label, "score"].to_numpy(dtype=float)
            ax.hist(
                scores,
                bins=edges,
                color=CLASS_COLOURS[label],
                alpha=0.45,
                edgecolor=CLASS_COLOURS[label],
                lw=1.2,
                label=f"{CLASS_NAMES[label]} (n={scores.size})",
            )
        ax.axvline(
            threshold, color=THRESHOLD_COLOUR, ls="--", lw=1.5, label=f"threshold {threshold:.3f}"
        )
        ax.set(
            xlim=(0, 1),
            xlabel="Fake probability",
            ylabel=f"Number of {level}s",
            title=f"{level.capitalize()} scores",
        )
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8, loc="upper center")
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle(f"Score distribution per class, {threshold_text(metrics)}")
    return _save(figure, path)


def _epoch_curves(history: pd.DataFrame) -> dict[str, pd.Series]:
    """One per-epoch series per train/val column (the last logged value of each epoch)."""
    per_epoch = history.dropna(subset=["epoch"]).groupby("epoch").last()
    curves = {}
    for column in per_epoch.columns:
        if column == "step" or column.startswith(("test/", "lr")):
            continue
        if column.endswith("_step") and f"{column[:-5]}_epoch" in per_epoch.columns:
            continue
        series = pd.to_numeric(per_epoch[column], errors="coerce").dropna()
        if not series.empty:
            curves[column] = series
    return curves


def plot_training_curves(path: Path, history: pd.DataFrame | None) -> Path | None:
    """Losses and AUROCs per epoch; None (nothing written) when there is nothing to plot."""
    if history is None or history.empty or "epoch" not in history:
        return None
    curves = _epoch_curves(history)
    panels = [
        (title, {k: v for k, v in curves.items() if test(k)})
        for title, test in (
            ("Loss", lambda key: "loss" in key),
            ("AUROC", lambda key: "auroc" in key or key.endswith("auc")),
        )
    ]
    panels = [(title, series) for title, series in panels if series]
    if not panels:
        return None
    figure = Figure(figsize=(5.2 * len(panels) + 0.4, 4.0), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, series) in zip(axes, panels, strict=True):
        for k, (key, values) in enumerate(series.items()):
            style = "-" if key.startswith("val") else "--"
            ax.plot(
                values.index,
                values.to_numpy(),
                style,
                marker="o",
                ms=3,
                lw=1.6,
                color=CURVE_COLOURS[k % len(CURVE_COLOURS)],
                label=key.removesuffix("_epoch"),
            )
        ax.set(title=f"{title} per epoch", xlabel="Epoch", ylabel=title.lower())
        if title == "AUROC":
            ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.01)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    figure.suptitle("Training curves")
    return _save(figure, path)


def pick_timeline_videos(videos: pd.DataFrame, count: int = 6) -> list[object]:
    """Video ids mixing real and fake, wrong and correct: the worst errors, then sure hits."""
    wrong = videos["label"] != videos["prediction"]
    error = (videos["score"] - videos["label"]).abs()
    queues = []
    for is_wrong in (True, False):
        for label in (1, 0):
            rows = videos[(wrong == is_wrong) & (videos["label"] == label)]
            rows = rows.assign(_error=error[rows.index]).sort_values(
                ["_error", "video_id"], ascending=[not is_wrong, True]
            )
            queues.append(list(rows["video_id"]))
    picked: list[object] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def plot_score_over_time(
    path: Path,
    videos: pd.DataFrame,
    clips: pd.DataFrame,
    frames: pd.DataFrame | None,
    metrics: Mapping[str, object],
    count: int = 6,
) -> Path:
    """Scores along the face track of a few videos: per frame when given, else per clip."""
    per_frame = frames is not None and len(frames) > 0
    source, x_column = (frames, "frame") if per_frame else (clips, "clip_start")
    chosen = pick_timeline_videos(videos, count)
    columns = min(3, max(len(chosen), 1))
    lines = max(math.ceil(len(chosen) / columns), 1)
    figure = Figure(figsize=(4.2 * columns + 0.4, 3.1 * lines + 0.8), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False, sharey=True).ravel()
    threshold = threshold_value(metrics)
    by_id = videos.set_index("video_id")
    for ax, video_id in zip(axes, chosen, strict=False):
        video = by_id.loc[video_id]
        label = int(video["label"])
        verdict = "correct" if int(video["prediction"]) == label else "wrong"
        rows = source[source["video_id"] == video_id].sort_values(x_column)
        if rows.empty:
            _note(ax, "no scores for this video")
        faces = sorted(rows["face"].unique())
        for k, face in enumerate(faces):
            track = rows[rows["face"] == face]
            ax.plot(
                track[x_column],
                track["score"],
                marker="o",
                ms=3,
                lw=1.5,
                ls=("-", "--", ":", "-.")[k % 4],
                color=CLASS_COLOURS[label],
                label=f"face {face}",
            )
        ax.axhline(threshold, color=THRESHOLD_COLOUR, ls="--", lw=1)
        ax.set_title(
            f"{short_id(video_id, 28)}\n{CLASS_NAMES[label]}, {verdict}, "
            f"video score {video['score']:.2f}",
            fontsize=9,
            color=CLASS_COLOURS[label],
        )
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if len(faces) > 1:
            ax.legend(fontsize=7, loc="best")
    for ax in axes[len(chosen) :]:
        ax.set_axis_off()
    if not chosen:
        axes[0].set_axis_on()
        _note(axes[0], "No videos to show")
    for ax in axes[::columns]:
        ax.set_ylabel("Fake probability")
    for ax in axes[-columns:]:
        ax.set_xlabel(
            "Frame number in the video"
            if per_frame
            else "Clip start (crop index in the face track)"
        )
    what = "frame" if per_frame else "clip"
    figure.suptitle(f"Per-{what} score over time (dashed: {threshold_text(metrics)})", fontsize=11)
    return _save(figure, path)


# ----------------------------------------------------------------------------- dashboard

FIGURE_FILES = {
    "roc": "roc.png",
    "pr": "pr.png",
    "confusion": "confusion.png",
    "metrics": "metrics.png",
    "score_histogram": "score_histogram.png",
    "calibration": "calibration.png",
    "false_positives": "false_positives.png",
    "false_negatives": "false_negatives.png",
    "score_over_time": "score_over_time.png",
    "training_curves": "training_curves.png",
}


def write_dashboard(
    out_dir: Path,
    videos: pd.DataFrame,
    clips: pd.DataFrame,
    frames: pd.DataFrame | None,
    metrics: Mapping[str, object],
    history: pd.DataFrame | None,
) -> dict[str, Path]:
    """Write every dashboard PNG into out_dir; returns {figure name: path} in display order.

    `training_curves` is left out when there is no training history.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / file for name, file in FIGURE_FILES.items()}
    written = {
        "roc": plot_roc(paths["roc"], videos, clips, metrics),
        "pr": plot_pr(paths["pr"], videos, clips, metrics),
        "confusion": plot_confusion(paths["confusion"], videos, metrics),
        "metrics": plot_metrics_bar(paths["metrics"], metrics),
        "score_histogram": plot_score_histogram(paths["score_histogram"], videos, clips, metrics),
        "calibration": plot_calibration(paths["calibration"], videos, clips, metrics),
        "false_positives": plot_error_grid(paths["false_positives"], videos, clips, metrics, "fp"),
        "false_negatives": plot_error_grid(paths["false_negatives"], videos, clips, metrics, "fn"),
        "score_over_time": plot_score_over_time(
            paths["score_over_time"], videos, clips, frames, metrics
        ),
        "training_curves": plot_training_curves(paths["training_curves"], history),
    }
    return {name: path for name, path in written.items() if path is not None}
