"""The numbers the field cites (`results/published.csv`), matched to a leaderboard's cells.

Each row: detector, train set, test set, level (frame or video), metric, value, source, all in
the names the source uses (`Xception`, `FF++ c23`, `CDF-v2`); a benchmark's plan maps dfd's
config names to them (`published.detectors`, `published.datasets`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfd.benchmark.plan import BenchmarkPlan

COLUMNS = ("detector", "train_set", "test_set", "level", "metric", "value", "source")


def read_published(path: Path) -> pd.DataFrame:
    """The published numbers; an empty table (with the columns) when the file is not there."""
    if not Path(path).is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    table = pd.read_csv(path, dtype={"value": float})
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    return table


def published_for(
    published: pd.DataFrame, plan: BenchmarkPlan, detector: str, train: str, test: str
) -> pd.DataFrame:
    """The published AUCs of one cell (frame and video level, each with its source)."""
    names = (
        plan.published_detectors.get(detector),
        plan.published_datasets.get(train),
        plan.published_datasets.get(test),
    )
    if None in names or published.empty:
        return published.iloc[0:0]
    wanted = (
        (published["detector"] == names[0])
        & (published["train_set"] == names[1])
        & (published["test_set"] == names[2])
        & (published["metric"] == "auroc")
    )
    return published[wanted]
