"""The leaderboard as a W&B table (offline unless WANDB_MODE says otherwise), beside its files."""

from __future__ import annotations

import os
from pathlib import Path

from dfd.benchmark.leaderboard import Leaderboard


def log_leaderboard(board: Leaderboard, title: str, out: Path) -> Path:
    """One W&B run holding the cells as a table; returns its local folder."""
    import wandb

    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "dfd"),
        name=title.lower().replace(" ", "_"),
        job_type="benchmark",
        dir=str(out),
        mode=os.environ.get("WANDB_MODE", "offline"),
    )
    try:
        run.log({"leaderboard": wandb.Table(dataframe=board.cells.drop(columns="videos_csv"))})
        return Path(run.dir).parent
    finally:
        run.finish()
