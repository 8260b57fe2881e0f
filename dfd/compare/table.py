"""Seed groups, their mean ± std, the sort order, and the CSV, Markdown and console tables.

Runs group when they have the same dataset and the same overrides apart from the seed and the
cross-validation fold. Each value column gets `<col>_mean`, `<col>_std` (sample std, n - 1) and
`<col>_n` per group; groups of folds also get their pooled out-of-fold AUROC
(`pooled_video_auroc`, with its CI) and the per-fold range (`fold_video_auroc_min`, `_max`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich import box
from rich.table import Table

from dfd.compare.folds import POOLED_FILES
from dfd.compare.runs import Skipped
from dfd.report.figures import LOWER_IS_BETTER, METRIC_LABELS

GROUP_KEYS = ["dataset", "overrides"]
METRIC_ORDER = ("auroc", "ap", "eer", "acc", "balanced_acc", "f1", "log_loss", "brier", "ece")
CONSOLE_METRICS = ("auroc", "ap", "eer", "acc", "balanced_acc", "f1", "log_loss")
CONSOLE_CELL_WIDTH = 17  # "[0.871, 0.938]", the padding either side and a separator
MAX_SETTING_WIDTH = 40
EXTRA_VALUES = ("threshold", "num_videos")
LIST_SEPARATOR = ";"


def value_columns(rows: pd.DataFrame) -> list[str]:
    """The numeric columns that are averaged: `<level>_<metric>`, threshold, num_videos."""
    levels = ("video_", "clip_", "frame_")
    return [
        column
        for column in rows.columns
        if (column.startswith(levels) and "_ci_" not in column) or column in EXTRA_VALUES
    ]


def resolve_metric(name: str, columns: Sequence[str]) -> str:
    """`video_eer` as given, or `eer` as `video_eer`; ValueError naming the choices otherwise."""
    for candidate in (name, f"video_{name}"):
        if candidate in columns and candidate not in EXTRA_VALUES:
            return candidate
    choices = ", ".join(c for c in columns if c not in EXTRA_VALUES)
    raise ValueError(f"unknown metric {name!r}; choose one of: {choices}")


def lower_is_better(metric: str) -> bool:
    """EER, log loss, Brier score and ECE sort ascending; the rest descending."""
    return metric.split("_", 1)[-1] in LOWER_IS_BETTER


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, overrides) group: runs, seeds, and mean/std/n of every value."""
    grouped = rows.groupby(GROUP_KEYS, sort=False, dropna=False)
    stats = grouped[value_columns(rows)].agg(["mean", "std", "count"])
    stats.columns = [
        f"{column}_{'n' if stat == 'count' else stat}" for column, stat in stats.columns
    ]
    lists = grouped.agg(
        n_runs=("run", "size"),
        runs=("run", list),
        seeds=("seed", list),
        eval_dirs=("eval_dir", list),
    )
    groups = lists.join(stats).reset_index()
    return groups.join(_single_run_intervals(rows, groups))


def _single_run_intervals(rows: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """CI bounds of the groups with one run (NaN for seed groups: their spread is the std)."""
    columns = [c for c in rows.columns if "_ci_" in c]
    first = rows.groupby(GROUP_KEYS, sort=False, dropna=False)[columns].first().reset_index()
    intervals = groups[GROUP_KEYS].merge(first, on=GROUP_KEYS, how="left")[columns]
    intervals.loc[(groups["n_runs"] != 1).to_numpy()] = math.nan
    return intervals


def sort_groups(groups: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Datasets in name order, then best `metric` first (missing values last)."""
    ascending = lower_is_better(metric)
    return groups.sort_values(
        ["dataset", f"{metric}_mean"],
        ascending=[True, ascending],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)


def pooled_text(group: pd.Series, separator: str = " ") -> str:
    """`0.912 [0.850, 0.960]` (one fold set) or `0.912` (the mean over seeds); — when not pooled."""
    value = group.get("pooled_video_auroc", math.nan)
    if pd.isna(value):
        return "—"
    low, high = (
        group.get("pooled_video_auroc_ci_lo", math.nan),
        group.get("pooled_video_auroc_ci_hi", math.nan),
    )
    return f"{value:.3f}" if pd.isna(low) else f"{value:.3f}{separator}[{low:.3f}, {high:.3f}]"


def fold_range_text(group: pd.Series) -> str:
    """`0.710–0.930`: the lowest and highest per-fold video AUROC; — when not pooled."""
    low, high = (
        group.get("fold_video_auroc_min", math.nan),
        group.get("fold_video_auroc_max", math.nan),
    )
    return "—" if pd.isna(low) else f"{low:.3f}–{high:.3f}"


def has_pooled(groups: pd.DataFrame) -> bool:
    """Whether any group is a pooled set of cross-validation folds."""
    return "pooled_video_auroc" in groups and bool(groups["pooled_video_auroc"].notna().any())


def metric_label(column: str) -> str:
    """`video_auroc` -> `video AUROC`; threshold and num_videos as they are."""
    level, _, name = column.partition("_")
    return f"{level} {METRIC_LABELS[name]}" if name in METRIC_LABELS else column


def console_label(column: str) -> str:
    """`video_auroc` -> `AUROC` (the console table is video-level), `clip_ap` -> `clip AP`."""
    return metric_label(column).removeprefix("video ")


def format_value(group: pd.Series, column: str, digits: int = 3, show_n: bool = True) -> str:
    """`0.912 ± 0.013 (n=3)` for a seed group, `0.905 [0.871, 0.938]` for a run with a CI."""
    n = int(group.get(f"{column}_n", 0))
    mean = group.get(f"{column}_mean", math.nan)
    if n == 0 or pd.isna(mean):
        return "—"
    if column == "num_videos" and (n == 1 or group[f"{column}_std"] == 0):
        return f"{mean:.0f}"
    if n == 1:
        low, high = group.get(f"{column}_ci_lo", math.nan), group.get(f"{column}_ci_hi", math.nan)
        if pd.isna(low) or pd.isna(high):
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    text = f"{mean:.{digits}f} ± {group[f'{column}_std']:.{digits}f}"
    return f"{text} (n={n})" if show_n else text


def _ordered(groups: pd.DataFrame, names: Sequence[str], metric: str) -> list[str]:
    """The sort metric, then the video metrics of `names` that the groups have."""
    chosen = [f"video_{name}" for name in names if f"video_{name}_mean" in groups]
    return [metric, *(c for c in chosen if c != metric)]


def ranks(groups: pd.DataFrame) -> pd.Series:
    """1, 2, ... within each dataset, in the sorted order."""
    return groups.groupby("dataset").cumcount() + 1


def _seeds(group: pd.Series) -> list[str]:
    return [str(seed) for seed in group["seeds"] if not pd.isna(seed)]


def setting_text(group: pd.Series, separator: str = " ") -> str:
    """The group's overrides (one per line with separator="\\n"), or what it is without any."""
    if not group["overrides"]:
        return "(same config)" if group["n_runs"] > 1 else group["runs"][0]
    return separator.join(re.split(r" (?=[^ =]+=)", group["overrides"]))


def to_csv(groups: pd.DataFrame, path: Path) -> Path:
    """Write the group table; list columns become `;`-separated text."""
    table = groups.drop(columns=["eval_dirs"]).copy()
    table["runs"] = table["runs"].map(LIST_SEPARATOR.join)
    table["seeds"] = [LIST_SEPARATOR.join(_seeds(group)) for _, group in groups.iterrows()]
    table.insert(0, "rank", ranks(groups))
    table.to_csv(path, index=False)
    return path


def sort_note(metric: str) -> str:
    """`Sorted by video EER (lower is better) within each dataset.`"""
    better = "lower" if lower_is_better(metric) else "higher"
    return f"Sorted by {metric_label(metric)} ({better} is better) within each dataset."


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def to_markdown(
    groups: pd.DataFrame,
    metric: str,
    skipped: Sequence[Skipped],
    warnings: Sequence[str] = (),
) -> str:
    """A Markdown table of every group, a note on the numbers, the warnings and the skipped runs."""
    columns = [
        *_ordered(groups, METRIC_ORDER, metric),
        *(c for c in EXTRA_VALUES if f"{c}_mean" in groups),
    ]
    pooled = has_pooled(groups)
    header = [
        "#",
        "overrides",
        "dataset",
        "seeds",
        *map(metric_label, columns),
        *(["pooled video AUROC", "per-fold AUROC min–max"] if pooled else []),
        "runs",
    ]
    lines = [_markdown_row(header), _markdown_row(["---"] * len(header))]
    for rank, (_, group) in zip(ranks(groups), groups.iterrows()):
        lines.append(
            _markdown_row(
                [
                    str(rank),
                    setting_text(group),
                    group["dataset"],
                    ", ".join(_seeds(group)) or "—",
                    *(format_value(group, c) for c in columns),
                    *([pooled_text(group), fold_range_text(group)] if pooled else []),
                    ", ".join(group["runs"]),
                ]
            )
        )
    lines += [
        "",
        f"{sort_note(metric)} `mean ± std (n=runs)` is over runs that differ only by "
        "seed or cross-validation fold (sample std); a single run shows its value and `[CI]` "
        "from its metrics.json.",
    ]
    if pooled:
        lines += [
            "",
            "Pooled video AUROC: the test videos of all folds of a setting scored as one "
            f"set, with its bootstrap CI (details in {POOLED_FILES['markdown']}).",
        ]
    if warnings:
        lines += ["", "Warnings:", ""] + [f"- {text}" for text in warnings]
    if skipped:
        lines += ["", "Skipped:", ""] + [
            f"- `{item.path.as_posix()}`: {item.reason}" for item in skipped
        ]
    return "\n".join(lines) + "\n"


def _console_metrics(groups: pd.DataFrame, metric: str, room: int) -> list[str]:
    """The sort metric, then as many of CONSOLE_METRICS as fit in `room` characters."""
    columns = _ordered(groups, CONSOLE_METRICS, metric)
    return columns[: max(1, room // CONSOLE_CELL_WIDTH)]


def console_table(groups: pd.DataFrame, metric: str, width: int = 160) -> Table:
    """The rich table printed by `dfd compare`: the sort metric first, then the main metrics
    that fit in `width`; one override per line, a run's CI under its value."""
    settings = [setting_text(group, "\n") for _, group in groups.iterrows()]
    setting_width = min(
        MAX_SETTING_WIDTH, max(len(line) for text in settings for line in text.split("\n"))
    )
    dataset_width = max(7, *(len(name) for name in groups["dataset"]))
    pooled = has_pooled(groups)
    room = width - setting_width - dataset_width - 15 - (CONSOLE_CELL_WIDTH if pooled else 0)
    columns = _console_metrics(groups, metric, room)
    caption = "mean ± std over n seeds or folds; one run: value [CI]"
    table = Table(
        title=f"Video-level metrics. {sort_note(metric)}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=caption + ("; pooled: out-of-fold AUROC [CI], per-fold min–max" if pooled else ""),
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("overrides", overflow="fold", min_width=setting_width)
    table.add_column("dataset", min_width=dataset_width)
    table.add_column("n", justify="right")
    for column in columns:
        table.add_column(
            console_label(column),
            justify="right",
            no_wrap=True,
            style="bold" if column == metric else None,
        )
    if pooled:
        table.add_column("pooled", justify="right", no_wrap=True)
    for rank, setting, (_, group) in zip(ranks(groups), settings, groups.iterrows()):
        cells = [format_value(group, c, show_n=False).replace(" [", "\n[") for c in columns]
        if pooled:
            ranged = fold_range_text(group)
            cells.append(pooled_text(group, "\n") + ("" if ranged == "—" else f"\n{ranged}"))
        table.add_row(str(rank), setting, group["dataset"], str(group["n_runs"]), *cells)
    return table
