"""ROC overlay: one video-level ROC curve per group, one panel per dataset.

A single run is drawn from its `videos.csv` as it is. A seed group is drawn as the mean curve:
each run's true-positive rate is interpolated on a common false-positive-rate grid and the
rates averaged (vertical averaging), with a band of ±1 std across the runs.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from dfd.compare.table import format_value, metric_label, setting_text
from dfd.eval.metrics import roc_points
from dfd.report.figures import DPI
from dfd.runs import EvalDir

GRID = np.linspace(0.0, 1.0, 201)
PANELS_PER_ROW = 3
LEGEND_WIDTH = 70  # characters per legend line before the overrides wrap
PANEL_INCHES = 5.6
LEGEND_LINE_INCHES = 0.17
LINE_STYLES = ("-", "--", ":")  # past the palette's 10 colours
Style = tuple[str, str]  # colour, line style
Curve = tuple[np.ndarray, np.ndarray]


def run_roc(videos_csv: Path) -> Curve | None:
    """(fpr, tpr) of one run's per-video scores; None without the file or without both classes."""
    try:
        videos = pd.read_csv(videos_csv, usecols=["label", "score"]).dropna()
    except (OSError, ValueError):
        return None
    if videos["label"].nunique() != 2:
        return None
    fpr, tpr, _ = roc_points(videos["score"].to_numpy(), videos["label"].to_numpy())
    return fpr, tpr


def on_grid(curve: Curve) -> np.ndarray:
    """The curve's true-positive rate at each grid false-positive rate (linear between points).

    Of the points sharing a false-positive rate (a vertical step) the highest is kept, so the
    rate just right of a step is the top of that step.
    """
    fpr, tpr = curve
    last = np.r_[np.flatnonzero(np.diff(fpr)), fpr.size - 1]
    return np.interp(GRID, fpr[last], tpr[last])


def mean_roc(curves: list[Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr grid, mean tpr, std tpr) over curves; the mean curve starts at (0, 0)."""
    rates = np.stack([on_grid(curve) for curve in curves])
    fpr, mean, std = np.r_[0.0, GRID], np.r_[0.0, rates.mean(axis=0)], np.r_[0.0, rates.std(axis=0)]
    return fpr, mean, std


def _wrapped_setting(group: pd.Series) -> str:
    return textwrap.fill(
        setting_text(group), LEGEND_WIDTH, break_long_words=False, break_on_hyphens=False
    )


def _legend(group: pd.Series, drawn: int) -> str:
    auc = format_value(group, "video_auroc", show_n=False)
    if group["n_runs"] == 1:
        return f"{_wrapped_setting(group)}\nAUC {auc}, one run"
    curve = f"mean curve of {drawn} of them" if drawn < group["n_runs"] else "mean curve"
    runs = "folds" if pd.notna(group.get("fold_video_auroc_min", math.nan)) else "seeds"
    return f"{_wrapped_setting(group)}\nAUC {auc} over {group['n_runs']} {runs}; {curve} ±1 std"


def _legend_lines(groups: pd.DataFrame, top: int) -> int:
    """Lines in the longest legend: each setting's wrapped overrides, its AUC line, chance."""
    return max(
        1 + sum(_wrapped_setting(group).count("\n") + 2 for _, group in shown.head(top).iterrows())
        for _, shown in groups.groupby("dataset", sort=False)
    )


def _draw_group(ax: Axes, group: pd.Series, root: Path, style: Style, band_alpha: float) -> bool:
    curves = [c for d in group["eval_dirs"] if (c := run_roc(EvalDir(root / d).videos)) is not None]
    colour, line_style = style
    if len(curves) == 1:
        ax.plot(*curves[0], color=colour, ls=line_style, lw=1.8, label=_legend(group, 1))
    elif curves:
        fpr, mean, std = mean_roc(curves)
        ax.plot(fpr, mean, color=colour, ls=line_style, lw=1.8, label=_legend(group, len(curves)))
        ax.fill_between(
            fpr,
            np.clip(mean - std, 0, 1),
            np.clip(mean + std, 0, 1),
            color=colour,
            alpha=band_alpha,
            lw=0,
        )
    return bool(curves)


def setting_styles(groups: pd.DataFrame) -> dict[str, Style]:
    """One colour and line style per setting (overrides), the same in every panel."""
    palette = colormaps["tab10"]
    settings = dict.fromkeys(groups["overrides"])
    return {
        setting: (to_hex(palette(i % palette.N)), LINE_STYLES[i // palette.N % 3])
        for i, setting in enumerate(settings)
    }


def _shown(count: int, top: int) -> str:
    if count > top:
        return f"the best {top} of {count} settings"
    return f"{count} setting{'s' if count > 1 else ''}"


def _panel(
    ax: Axes,
    dataset: str,
    groups: pd.DataFrame,
    root: Path,
    top: int,
    styles: dict[str, Style],
    metric: str,
) -> None:
    band_alpha = 0.15 if min(top, len(groups)) <= 4 else 0.06  # many bands would hide the curves
    drawn = sum(
        _draw_group(ax, group, root, styles[group["overrides"]], band_alpha)
        for _, group in groups.head(top).iterrows()
    )
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1, label="chance")
    ax.set_title(
        f"{dataset}: video-level ROC\n{_shown(len(groups), top)}, "
        f"best {metric_label(metric)} first",
        fontsize=10,
    )
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        aspect="equal",
    )
    ax.grid(alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "no videos.csv with both classes", ha="center", transform=ax.transAxes)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)


def plot_roc_overlay(
    path: Path, groups: pd.DataFrame, root: Path, metric: str, top: int = 10
) -> Path:
    """Save the overlay PNG: the `top` groups of each dataset (in `groups` order) per panel."""
    datasets = list(dict.fromkeys(groups["dataset"]))
    columns = min(len(datasets), PANELS_PER_ROW)
    rows = math.ceil(len(datasets) / columns)
    height = PANEL_INCHES + LEGEND_LINE_INCHES * _legend_lines(groups, top)
    figure = Figure(figsize=(PANEL_INCHES * columns, height * rows), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    styles = setting_styles(groups)
    for ax, dataset in zip(axes, datasets):
        _panel(ax, dataset, groups[groups["dataset"] == dataset], root, top, styles, metric)
    for ax in axes[len(datasets) :]:
        ax.set_axis_off()
    figure.savefig(path, bbox_inches="tight")
    return path
