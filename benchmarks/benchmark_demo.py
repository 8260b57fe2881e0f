"""The demo leaderboard: `dfd benchmark benchmark=demo` at its own recipe, as a user runs it.

    python benchmarks/benchmark_demo.py [--root DIR] [benchmark overrides ...]

Builds the demo once in a scratch folder (`<root>/data/demo/raw`, kept between runs; your
data/ and logs/ are untouched), prepares its two derived sets (`demo_sbi`: reals and
self-blends, the stand-in training set; `demo_swap`: the same people's reals and face swaps,
the cross-dataset stand-in), runs the benchmark's multirun and copies its leaderboard (one row
per detector and test set) to results/benchmark_demo.csv, with the plan's recipe and the
minutes each detector's job took (training and both tests). Run again, it continues the same
sweep: detectors already done are kept, one added to conf/benchmark/demo.yaml is trained.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
from demo_data import run
from results_table import write_table

from dfd.benchmark.plan import BenchmarkPlan
from dfd.runs import RunDir

DERIVED = ("demo_sbi", "demo_swap")
COLUMNS = {
    "detector": "detector",
    "train_set": "train set",
    "test_set": "test set",
    "video_auroc": "video AUC",
    "video_auroc_ci_lo": "CI low",
    "video_auroc_ci_hi": "CI high",
    "frame_auroc": "frame AUC",
    "video_ap": "video AP",
    "video_eer": "video EER",
    "status": "status",
    "minutes": "job minutes",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "dfd-bench")
    args, overrides = parser.parse_known_args()
    data_dir = args.root / "data"
    raw = data_dir / "demo" / "raw"
    if not (raw / "labels.csv").exists():
        run([sys.executable, "-m", "dfd.demo.build", "--force", "--out", str(raw)])
    for name in DERIVED:
        if not (data_dir / name / "prepared" / "manifest.csv").exists():
            run([sys.executable, "-m", "dfd.prepare", f"data={name}", f"paths.data_dir={data_dir}"])
    sweep = args.root / "sweep"
    run(
        [
            sys.executable,
            "-m",
            "dfd.cli.main",
            "benchmark",
            "benchmark=demo",
            f"paths.data_dir={data_dir}",
            f"paths.log_dir={args.root / 'logs'}",
            f"sweep_dir={sweep}",
            *overrides,
        ]
    )
    recipe = BenchmarkPlan.load(sweep).recipe
    cells = pd.read_csv(sweep / "leaderboard.csv")
    minutes = job_minutes(sweep)
    cells["minutes"] = [minutes[job] for job in zip(cells.detector, cells.train_set)]
    table = cells[list(COLUMNS)].rename(columns=COLUMNS).round(3)
    print(table.to_string(index=False))
    write_table(
        "benchmark_demo",
        list(table.columns),
        table.itertuples(index=False),
        f"`dfd benchmark benchmark=demo`, recipe `{' '.join(recipe)}`, overrides: "
        f"{' '.join(overrides) or 'none'}; {os.cpu_count()} CPU cores; job minutes: one "
        "detector's training and both tests, from its config snapshot to its last result.",
    )


def job_minutes(sweep: Path) -> dict[tuple[str, str], float]:
    """(detector, train set) -> minutes from the job's config snapshot to its newest file."""
    minutes = {}
    for job in (RunDir(path) for path in sweep.iterdir()):
        if not job.is_run():
            continue
        started = job.config.stat().st_mtime
        newest = max(path.stat().st_mtime for path in job.path.rglob("*") if path.is_file())
        choices = job.choices()
        minutes[(choices["model"], choices["data"])] = round((newest - started) / 60, 1)
    return minutes


if __name__ == "__main__":
    main()
