"""The command line of `dfd benchmark` (kept light: `--help` imports nothing heavy)."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="dfd benchmark",
        description=(
            "Train every detector of a benchmark (conf/benchmark/<name>.yaml) on every training "
            "set as one Hydra multirun, test each on every test set, and write the leaderboard "
            "(CSV, markdown, HTML with ROC curves) into the sweep folder. Overrides: "
            "benchmark=NAME and benchmark.KEY=VALUE choose the plan, sweep_dir=DIR where it "
            "goes (an earlier sweep's folder continues it: cells already done are kept); any "
            "other (hydra/launcher=submitit_slurm, trainer.max_epochs=2, ...) is passed to "
            "every training job."
        ),
    )
    command.add_argument("overrides", nargs="*", help="benchmark and train overrides")
    command.add_argument(
        "--collect",
        type=Path,
        metavar="FOLDER",
        help="only write the leaderboard of the runs under FOLDER (a sweep, finished or not)",
    )
    command.add_argument(
        "--out", type=Path, help="where the leaderboard goes (default: the sweep folder)"
    )
    command.add_argument(
        "--published", type=Path, help="the published numbers (default: results/published.csv)"
    )
    command.add_argument(
        "--wandb", action="store_true", help="also log the leaderboard as a W&B table"
    )
    command.add_argument(
        "--dry-run", action="store_true", help="print the training multirun, run nothing"
    )
    return command
