"""Where a demo run's test AUC comes from: each manipulation on its own, and each person.

    python benchmarks/demo_breakdown.py [--append] NAME=RUN_OR_EVAL_FOLDER [NAME=...]

For each run (a train run folder, or an evaluation's `eval/demo` folder) it reads the test
videos' scores (`eval/demo/videos.csv`) and writes one row to results/demo_breakdown.csv: the
video AUC, the AUC of self-blends against the reals and of face swaps against the reals, the
mean AUC within each test person (their reals against their own fakes: what a detector knows
regardless of how high a person's scores sit), the spread of the test people's mean real
scores (how far apart people sit), and how many people's swaps score below their own reals.
With ``--append`` the table's earlier rows are kept (a row of the same name is replaced), so
runs whose folders are gone stay in it.
The demo names every clip `<person>_<NN>` (fakes add `_sbi` or `_swap`), which gives the person.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from results_table import RESULTS, write_table
from sklearn.metrics import roc_auc_score

from dfd.runs import RunDir

TABLE = RESULTS / "demo_breakdown.csv"

HEADER = (
    "run",
    "video AUC",
    "self-blends vs reals",
    "swaps vs reals",
    "within-person AUC (mean)",
    "people's mean real score (min-max)",
    "people whose swaps score below their reals",
)


def scores_of(folder: Path) -> pd.DataFrame:
    """The test videos' scores of a run folder or of an evaluation folder, with each person."""
    videos = folder / "videos.csv"
    if not videos.exists():
        videos = RunDir(folder).evaluation("demo").videos
    table = pd.read_csv(videos)
    clip = table["video_id"].str.split("/").str[-1]
    table["person"] = clip.str.replace(r"_\d\d(_sbi|_swap)?$", "", regex=True)
    return table


def auc(table: pd.DataFrame) -> float:
    return roc_auc_score(table["label"], table["score"])


def breakdown(name: str, table: pd.DataFrame) -> list[str]:
    """One row of the table for one run's test scores."""
    reals = table[table["label"] == 0]
    by_method = {m: auc(pd.concat([reals, table[table["method"] == m]])) for m in ("sbi", "swap")}
    people = [g for _, g in table.groupby("person") if g["label"].nunique() == 2]
    within = sum(auc(g) for g in people) / len(people)
    real_means = reals.groupby("person")["score"].mean()
    means = table.groupby(["person", "method"])["score"].mean().unstack()
    below = int((means["swap"] < means["real"]).sum())
    return [
        name,
        f"{auc(table):.3f}",
        f"{by_method['sbi']:.3f}",
        f"{by_method['swap']:.3f}",
        f"{within:.3f}",
        f"{real_means.min():.2f}-{real_means.max():.2f}",
        f"{below} of {len(means)}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="NAME=FOLDER (a run, or an eval/demo folder)")
    parser.add_argument("--append", action="store_true", help="keep the table's other rows")
    args = parser.parse_args()
    rows = []
    for spec in args.runs:
        name, _, folder = spec.rpartition("=")
        rows.append(breakdown(name, scores_of(Path(folder))))
        print(" | ".join(rows[-1]))
    if args.append and TABLE.exists():
        kept = pd.read_csv(TABLE, dtype=str, keep_default_na=False)
        kept = kept[~kept["run"].isin([row[0] for row in rows])]
        rows = [*kept.itertuples(index=False, name=None), *rows]
    write_table(
        "demo_breakdown",
        HEADER,
        rows,
        "The 46-person demo's test split (10 people, 105 videos), one row per run; "
        "`benchmarks/demo_breakdown.py` over the runs' `eval/demo/videos.csv`.",
    )


if __name__ == "__main__":
    main()
