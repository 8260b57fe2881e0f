"""A benchmark's leaderboard, read from its run folders: one cell per (detector, train set,
test set) with its video AUC (95% interval), frame AUC, AP and EER, the published figure of
the same cell beside it, and the state of cells not done yet (a partial sweep shows what is
done). Written as CSV, markdown, an HTML page with one ROC overlay per test set, and on
request a W&B table. Reads files only: it runs on a sweep still going, or long finished.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dfd.benchmark.plan import BenchmarkPlan
from dfd.benchmark.published import published_for
from dfd.compare.roc import run_roc
from dfd.compare.runs import find_run_folders, read_result, read_run
from dfd.report.figures import DPI
from dfd.runs import RunDir

DONE, NO_RESULT, NOT_RUN = "done", "no result (failed or still running)", "not run"
VALUE_COLUMNS = (
    "video_auroc",
    "video_auroc_ci_lo",
    "video_auroc_ci_hi",
    "frame_auroc",
    "video_ap",
    "video_eer",
)
CORNER_ROWS, CORNER_COLUMNS = "detector (train set)", "test set"
FILES = {"csv": "leaderboard.csv", "markdown": "leaderboard.md", "html": "leaderboard.html"}


@dataclass(frozen=True)
class Leaderboard:
    """The cells, one row each (long format), each with its `videos.csv` for the ROC curves."""

    cells: pd.DataFrame


def collect_cells(root: Path, plan: BenchmarkPlan | None = None) -> Leaderboard:
    """Every (detector, train set, test set) result under `root`, plus the plan's cells that
    have none yet. A run's detector and train set are its `model` and `data` config choices."""
    rows, started = [], set()
    for run_dir in find_run_folders([Path(root)]):
        run = read_run(run_dir)
        if run.config.get("task_name") != "train":
            continue
        detector, train = run.choices.get("model", "?"), run.choices.get("data", "?")
        started.add((detector, train))
        for eval_dir in RunDir(run_dir).evaluations():
            result = read_result(eval_dir)
            if isinstance(result, str):
                continue
            rows.append(
                {
                    "detector": detector,
                    "train_set": train,
                    "test_set": eval_dir.name,
                    "status": DONE,
                    **{key: result.get(key, math.nan) for key in VALUE_COLUMNS},
                    "videos_csv": str(eval_dir.videos),
                }
            )
    cells = pd.DataFrame(
        rows, columns=["detector", "train_set", "test_set", "status", *VALUE_COLUMNS, "videos_csv"]
    )
    if plan is not None:
        cells = _with_missing_cells(cells, plan, started)
    return Leaderboard(cells.reset_index(drop=True))


def _with_missing_cells(
    cells: pd.DataFrame, plan: BenchmarkPlan, started: set[tuple[str, str]]
) -> pd.DataFrame:
    """The plan's cells only, in its order, the missing ones marked by why."""
    done = {(row.detector, row.train_set, row.test_set) for row in cells.itertuples()}
    missing = [
        {
            "detector": detector,
            "train_set": train,
            "test_set": test,
            "status": NO_RESULT if (detector, train) in started else NOT_RUN,
        }
        for detector, train, test in plan.cells()
        if (detector, train, test) not in done
    ]
    merged = pd.concat([cells, pd.DataFrame(missing, columns=cells.columns)], ignore_index=True)
    order = {cell: rank for rank, cell in enumerate(plan.cells())}
    keys = [
        order.get(cell, len(order))
        for cell in zip(merged.detector, merged.train_set, merged.test_set)
    ]
    return merged.assign(_order=keys).sort_values("_order").drop(columns="_order")


def with_published(board: Leaderboard, published: pd.DataFrame, plan: BenchmarkPlan) -> Leaderboard:
    """Each cell's published AUCs where a source states one: `published` (`frame 0.737`, one
    entry per level the source gives) and `published_source`."""
    cells = board.cells.copy()
    texts, sources = [], []
    for row in cells.itertuples():
        found = published_for(published, plan, row.detector, row.train_set, row.test_set)
        texts.append("; ".join(f"{r.level} {r.value:.3f}" for r in found.itertuples()))
        sources.append("; ".join(dict.fromkeys(found["source"])))
    return Leaderboard(cells.assign(published=texts, published_source=sources))


def cell_text(row: pd.Series) -> str:
    """`0.812 [0.70, 0.90]` for a done cell (with the published figures of the same cell), its
    status otherwise."""
    if row["status"] != DONE:
        return row["status"]
    text = (
        f"{row['video_auroc']:.3f} [{row['video_auroc_ci_lo']:.2f}, {row['video_auroc_ci_hi']:.2f}]"
    )
    published = row.get("published") or ""
    return f"{text} (published: {published})" if published else text


def pivot(board: Leaderboard) -> pd.DataFrame:
    """Rows `detector (train set)`, one column per test set, cells as `cell_text`."""
    cells = board.cells.assign(
        trained=lambda t: t.detector + " (" + t.train_set + ")",
        text=lambda t: t.apply(cell_text, axis=1),
    )
    table = cells.pivot_table(
        index="trained", columns="test_set", values="text", aggfunc="first", sort=False
    )
    return table.reindex(columns=list(dict.fromkeys(cells.test_set))).fillna("")


def write_leaderboard(board: Leaderboard, out: Path, title: str) -> dict[str, Path]:
    """leaderboard.csv (long), .md (the pivot), .html (the pivot, the ROC overlays, the cells
    not done), and roc_<test set>.png; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / name for kind, name in FILES.items()}
    board.cells.drop(columns="videos_csv").to_csv(paths["csv"], index=False)
    table = pivot(board)
    counts = board.cells["status"].value_counts().to_dict()
    status = ", ".join(f"{count} {name}" for name, count in counts.items())
    markdown = f"# {title}\n\nVideo-level AUC [95% CI]; cells: {status}.\n\n" + markdown_table(
        table
    )
    paths["markdown"].write_text(markdown + "\n")
    rocs = {test: plot_rocs(board, test, out / f"roc_{test}.png") for test in table.columns}
    paths["html"].write_text(_html(title, table, rocs, status))
    return paths | {f"roc_{test}": path for test, path in rocs.items() if path}


def markdown_table(table: pd.DataFrame) -> str:
    """A pivot as a markdown table (its index as the first column)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, values in table.iterrows():
        cells = [str(name), *(str(value) for value in values)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def plot_rocs(board: Leaderboard, test: str, path: Path) -> Path | None:
    """The video-level ROC of every done cell tested on `test`, one curve per detector."""
    done = board.cells[(board.cells.test_set == test) & (board.cells.status == DONE)]
    curves = [(row, run_roc(Path(row.videos_csv))) for row in done.itertuples()]
    curves = [(row, curve) for row, curve in curves if curve is not None]
    if not curves:
        return None
    figure = Figure(figsize=(5.5, 5.0), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    for row, (fpr, tpr) in curves:
        ax.plot(fpr, tpr, label=f"{row.detector} ({row.train_set}) {row.video_auroc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"test: {test}")
    ax.legend(fontsize=7, loc="lower right")
    figure.savefig(path)
    return path


def corner_labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The pivot with its two axis names in one corner cell, so HTML draws one header row
    (with both names set, pandas adds a second, empty one)."""
    return table.rename_axis(index=None, columns=f"{CORNER_ROWS} / {CORNER_COLUMNS}")


def _html(title: str, table: pd.DataFrame, rocs: dict[str, Path | None], status: str) -> str:
    figures = "".join(
        f'<figure><img src="{html.escape(path.name)}" alt="ROC on {html.escape(test)}">'
        f"<figcaption>{html.escape(test)}</figcaption></figure>"
        for test, path in rocs.items()
        if path
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "figure{display:inline-block;margin:0 1em 1em 0}img{width:420px}"
        f"</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Video-level AUC [95% CI] per cell; cells: {html.escape(status)}. The checkpoint and "
        "the threshold of each cell were chosen on its training set's validation split.</p>"
        f"{corner_labelled(table).to_html(escape=True)}<h2>ROC curves by test set</h2>{figures}"
        "</body></html>\n"
    )
