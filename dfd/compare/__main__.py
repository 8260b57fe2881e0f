"""dfd compare FOLDER [...] [--metric M] [--dataset NAME] [--out DIR] [--roc-top N]

Reads `<run>/eval/<dataset>/metrics.json` and `videos.csv` of every run folder found under the
given folders (recursively) and writes comparison.csv, comparison_runs.csv, comparison.md and
roc_overlay.png, plus pooled_folds.csv and pooled_folds.md when some runs are the
cross-validation folds of one setting. Exit status: 0 on success, 1 when no run has results, 2
on a usage error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pandas as pd
from rich.console import Console

from dfd.compare.folds import pool_folds, pooled_by_group, pooled_warnings, write_pooled
from dfd.compare.options import parser
from dfd.compare.roc import plot_roc_overlay
from dfd.compare.runs import Collection, Skipped, collect, evaluation_warnings
from dfd.compare.table import (
    console_table,
    resolve_metric,
    sort_groups,
    summarize,
    to_csv,
    to_markdown,
    value_columns,
)

OUTPUT_FILES = {
    "csv": "comparison.csv",
    "markdown": "comparison.md",
    "runs": "comparison_runs.csv",
    "roc": "roc_overlay.png",
}


def make_console() -> Console:
    """A console as wide as the terminal; 160 columns into a file or pipe unless COLUMNS says."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160
    return console


def _print_skipped(console: Console, skipped: Sequence[Skipped]) -> None:
    if skipped:
        console.print(f"skipped {len(skipped)}:")
        for item in skipped:
            console.print(f"  {item.path.as_posix()}: {item.reason}", markup=False, highlight=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"dfd compare: {message}", file=sys.stderr)
    raise SystemExit(code)


def _results(collection: Collection, folders: Sequence[Path], dataset: str | None) -> pd.DataFrame:
    rows, where = collection.rows, ", ".join(map(str, folders))
    if rows.empty and not collection.skipped:
        _fail(f"no run folders (folders with .hydra/config.yaml) under {where}")
    if rows.empty:
        _fail(f"no runs with evaluation results (eval/<dataset>/metrics.json) under {where}")
    if dataset is not None:
        available = sorted(set(rows["dataset"]))
        rows = rows[rows["dataset"] == dataset]
        if rows.empty:
            _fail(f"no results on dataset {dataset!r}; found: {', '.join(available)}")
    return rows


def write_outputs(
    collection: Collection,
    groups: pd.DataFrame,
    metric: str,
    out: Path,
    top: int,
    pooled: pd.DataFrame,
    warnings: Sequence[str] = (),
) -> list[Path]:
    """Write the group CSV, the per-run CSV, the Markdown table, the ROC overlay and, with
    cross-validation folds, the pooled tables into out."""
    out.mkdir(parents=True, exist_ok=True)
    markdown = out / OUTPUT_FILES["markdown"]
    markdown.write_text(to_markdown(groups, metric, collection.skipped, warnings))
    collection.rows.to_csv(out / OUTPUT_FILES["runs"], index=False)
    return [
        to_csv(groups, out / OUTPUT_FILES["csv"]),
        markdown,
        out / OUTPUT_FILES["runs"],
        plot_roc_overlay(out / OUTPUT_FILES["roc"], groups, collection.root, metric, top),
        *(write_pooled(pooled, out) if len(pooled) else []),
    ]


def with_pooled(groups: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """The groups with their pooled out-of-fold columns (when any runs are folds)."""
    if pooled.empty:
        return groups
    return groups.merge(pooled_by_group(pooled), on=["dataset", "overrides"], how="left")


def main(argv: Sequence[str] | None = None) -> None:
    """Collect, group, sort, write and print; exit 1 when nothing has results."""
    args = parser().parse_args(argv)
    missing = [str(folder) for folder in args.folders if not folder.is_dir()]
    if missing:
        _fail(f"no such folder: {', '.join(missing)}", code=2)
    console = make_console()
    collection = collect(args.folders)
    _print_skipped(console, collection.skipped)
    rows = _results(collection, args.folders, args.dataset)
    try:
        metric = resolve_metric(args.metric, value_columns(rows))
    except ValueError as error:
        _fail(str(error), code=2)
    pooled = pool_folds(rows, collection.root)
    groups = sort_groups(with_pooled(summarize(rows), pooled), metric)
    collection = Collection(collection.root, rows, collection.skipped)
    warnings = evaluation_warnings(rows) + pooled_warnings(pooled)
    paths = write_outputs(
        collection, groups, metric, args.out or args.folders[0], args.roc_top, pooled, warnings
    )
    console.print(console_table(groups, metric, console.width))
    for warning in warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False)
    console.print("wrote " + ", ".join(str(path) for path in paths), highlight=False)


if __name__ == "__main__":
    main()
