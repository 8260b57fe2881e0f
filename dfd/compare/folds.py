"""Out-of-fold pooling: the cross-validation folds of one setting scored as one test set.

Runs that differ only by `data.cv.fold` (same dataset, overrides and seed) form a fold set.
Their test `videos.csv` (on the dataset they trained on, where every video is tested by exactly
one fold) are concatenated; duplicated videos and missing folds are reported. The pooled video
AUROC and AP get bootstrap intervals by the evaluation's own rule (whole groups when there are
enough, `dfd.tasks.evaluation.confidence_intervals`), and the per-fold values their spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dfd.runs import EvalDir, RunDir

POOLED_FILES = {"csv": "pooled_folds.csv", "markdown": "pooled_folds.md"}
SET_KEYS = ["dataset", "overrides", "seed"]
# conf/evaluation/default.yaml's bootstrap, for run folders whose config does not say
DEFAULT_BOOTSTRAP = {"resamples": 1000, "level": 0.95, "by_group": True, "min_groups": 8, "seed": 0}
_SHOWN_DUPLICATES = 5


def fold_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of cross-validation runs scored on the dataset they trained on."""
    if rows.empty or "fold" not in rows:
        return rows.iloc[0:0]
    return rows[rows["fold"].notna() & (rows["dataset"] == rows["trained_on"])]


def _bootstrap_settings(run_dir: Path) -> dict[str, Any]:
    """The run's `evaluation.bootstrap` settings, or the defaults."""
    found = (RunDir(run_dir).read_config().get("evaluation") or {}).get("bootstrap")
    return {**DEFAULT_BOOTSTRAP, **found} if isinstance(found, Mapping) else dict(DEFAULT_BOOTSTRAP)


def pooled_videos(fold_set: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The `videos.csv` of every fold of one set, concatenated, with a `fold` column."""
    tables = [
        pd.read_csv(EvalDir(root / eval_dir).videos, dtype={"video_id": str}).assign(fold=int(fold))
        for eval_dir, fold in zip(fold_set["eval_dir"], fold_set["fold"])
    ]
    return pd.concat(tables, ignore_index=True)


def _missing_folds(fold_set: pd.DataFrame) -> str:
    """Folds 0..k-1 with no run in the set (k known when `data.cv.folds` is a number)."""
    values = {str(value) for value in fold_set["folds"]}
    if len(values) != 1 or not next(iter(values)).isdigit():
        return ""
    expected = set(range(int(values.pop())))
    return ";".join(str(fold) for fold in sorted(expected - set(fold_set["fold"].astype(int))))


def pool_fold_set(fold_set: pd.DataFrame, root: Path) -> dict[str, Any]:
    """One fold set's pooled metrics with CIs, duplicate and missing-fold checks, per-fold spread."""
    from dfd.eval.metrics import binary_metrics
    from dfd.tasks.evaluation import confidence_intervals  # torch: only when there are folds

    videos = pooled_videos(fold_set, root)
    duplicated = sorted(videos.loc[videos["video_id"].duplicated(), "video_id"].unique())
    metrics = binary_metrics(videos["score"], videos["label"])
    intervals = confidence_intervals(
        videos, {"bootstrap": _bootstrap_settings(root / fold_set["run"].iloc[0])}
    )
    per_fold = fold_set.sort_values("fold")["video_auroc"]
    row: dict[str, Any] = {
        "n_folds": len(fold_set),
        "folds": ";".join(str(int(f)) for f in sorted(fold_set["fold"])),
        "missing_folds": _missing_folds(fold_set),
        "num_videos": len(videos),
        "duplicate_videos": len(duplicated),
        "duplicates": ";".join(duplicated[:_SHOWN_DUPLICATES]),
        "pooled_video_auroc": metrics["auroc"],
        "pooled_video_ap": metrics["ap"],
        "pooled_video_acc": float((videos["prediction"] == videos["label"]).mean()),
    }
    for name in ("auroc", "ap"):
        low, high = intervals.get("ci", {}).get(f"video_{name}", (float("nan"),) * 2)
        row |= {f"pooled_video_{name}_ci_lo": low, f"pooled_video_{name}_ci_hi": high}
    row |= {
        "ci_resampled": intervals.get("ci_resampled", intervals.get("ci_note", "")),
        "fold_video_auroc_mean": per_fold.mean(),
        "fold_video_auroc_std": per_fold.std(),
        "fold_video_auroc_min": per_fold.min(),
        "fold_video_auroc_max": per_fold.max(),
        "fold_video_auroc": ";".join(f"{value:.4f}" for value in per_fold),
        "runs": ";".join(fold_set.sort_values("fold")["run"]),
    }
    return row


def pool_folds(rows: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per fold set (dataset, overrides, seed) of the collected rows; empty without folds."""
    folds = fold_rows(rows)
    pooled = [
        {**dict(zip(SET_KEYS, key)), **pool_fold_set(fold_set, root)}
        for key, fold_set in folds.groupby(SET_KEYS, sort=True, dropna=False)
    ]
    return pd.DataFrame(pooled)


def pooled_by_group(pooled: pd.DataFrame) -> pd.DataFrame:
    """Per comparison group (dataset, overrides): the pooled AUROC (the mean over its seeds' fold
    sets, with the CI when there is one set) and the per-fold range."""
    grouped = pooled.groupby(["dataset", "overrides"], sort=False)
    table = grouped.agg(
        pooled_video_auroc=("pooled_video_auroc", "mean"),
        fold_video_auroc_min=("fold_video_auroc_min", "min"),
        fold_video_auroc_max=("fold_video_auroc_max", "max"),
        pooled_sets=("pooled_video_auroc", "size"),
        pooled_video_auroc_ci_lo=("pooled_video_auroc_ci_lo", "first"),
        pooled_video_auroc_ci_hi=("pooled_video_auroc_ci_hi", "first"),
    )
    several = table["pooled_sets"] > 1
    table.loc[several, ["pooled_video_auroc_ci_lo", "pooled_video_auroc_ci_hi"]] = float("nan")
    return table.reset_index()


def pooled_markdown(pooled: pd.DataFrame) -> str:
    """The pooled table as Markdown, with what the numbers are and any warnings."""
    header = [
        "dataset",
        "overrides",
        "seed",
        "folds",
        "videos",
        "pooled video AUROC [CI]",
        "pooled AP [CI]",
        "per-fold AUROC mean ± std",
        "min–max",
        "per-fold AUROC",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in pooled.iterrows():
        cells = [
            row["dataset"],
            row["overrides"] or "(same config)",
            str(row["seed"]),
            row["folds"],
            str(row["num_videos"]),
            _with_ci(row, "auroc"),
            _with_ci(row, "ap"),
            _mean_std(row["fold_video_auroc_mean"], row["fold_video_auroc_std"]),
            f"{row['fold_video_auroc_min']:.3f}–{row['fold_video_auroc_max']:.3f}",
            row["fold_video_auroc"].replace(";", ", "),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Out-of-fold pooling: the test videos of every fold, scored by that fold's model, "
        "form one test set; CIs resample " + _resampled(pooled) + ". Each fold's model and "
        "threshold differ, so the pooled AUROC also reflects how comparable their scores are.",
    ]
    lines += [f"- warning: {text}" for text in pooled_warnings(pooled)]
    return "\n".join(lines) + "\n"


def _mean_std(mean: float, std: float) -> str:
    """`0.812 ± 0.051`, or the mean alone for a single fold (no spread)."""
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _with_ci(row: pd.Series, name: str) -> str:
    value, low, high = (row[f"pooled_video_{name}{end}"] for end in ("", "_ci_lo", "_ci_hi"))
    return f"{value:.3f}" if pd.isna(low) else f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _resampled(pooled: pd.DataFrame) -> str:
    return "; ".join(sorted({str(text) for text in pooled["ci_resampled"] if text})) or "videos"


def pooled_warnings(pooled: pd.DataFrame) -> list[str]:
    """Fold sets with duplicated videos or missing folds."""
    warnings = []
    for _, row in pooled.iterrows():
        where = f"{row['dataset']} {row['overrides'] or '(same config)'} seed {row['seed']}"
        if row["duplicate_videos"]:
            warnings.append(
                f"{where}: {row['duplicate_videos']} video(s) tested by more than one "
                f"fold (e.g. {row['duplicates']}); the folds do not partition the data"
            )
        if row["missing_folds"]:
            warnings.append(f"{where}: no finished run for fold(s) {row['missing_folds']}")
    return warnings


def write_pooled(pooled: pd.DataFrame, out: Path) -> list[Path]:
    """pooled_folds.csv and pooled_folds.md in out."""
    csv_path, markdown = out / POOLED_FILES["csv"], out / POOLED_FILES["markdown"]
    pooled.to_csv(csv_path, index=False)
    markdown.write_text(pooled_markdown(pooled))
    return [csv_path, markdown]
