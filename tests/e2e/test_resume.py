"""`ckpt_path=last`: a run killed with SIGKILL mid-epoch and resumed ends as if never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from dfd.tasks.resume import continued_overrides
from helpers.runs import REPO, run_entry_point


def overrides(manifest: Path, log_dir: Path) -> list[str]:
    return [
        f"data.prepared_dir={manifest.parent}",
        f"paths.log_dir={log_dir}",
        "datamodule.image_size=48",
        "datamodule.clip_len=2",
        "datamodule.batch_size=4",
        "datamodule.num_workers=2",
        "trainer.max_epochs=4",
        "trainer.deterministic=true",
        "trainer.enable_progress_bar=false",
        "test=false",
        "model=resnet18",
    ]


def kill_after_first_checkpoint(command: list[str], runs: Path) -> None:
    """Start a training run and SIGKILL it once epoch 0's last.ckpt is written."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not list(runs.glob("*/checkpoints/last.ckpt")):
        assert process.poll() is None and time.monotonic() < deadline, (
            "run ended before a checkpoint"
        )
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"


def final_state(log_dir: Path) -> tuple[dict[str, torch.Tensor], pd.Series]:
    run = next((log_dir / "train" / "runs").glob("*/checkpoints/last.ckpt")).parent.parent
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    logs = pd.concat(pd.read_csv(path) for path in sorted(run.glob("csv/version_*/metrics.csv")))
    validation = logs.dropna(subset=["val/loss"]).set_index("epoch")
    return checkpoint["state_dict"], validation.loc[
        validation.index.max(), ["val/loss", "val/video_auroc"]
    ]


@pytest.mark.slow
def test_killed_and_resumed_run_matches_an_uninterrupted_one(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    run_entry_point("train.py", *overrides(tiny_prepared, tmp_path / "whole"))
    killed = tmp_path / "killed"
    kill_after_first_checkpoint(
        [sys.executable, "train.py", *overrides(tiny_prepared, killed)], killed / "train" / "runs"
    )
    result = run_entry_point("train.py", "ckpt_path=last", f"paths.log_dir={killed}")
    assert "Restored all states" in result.stdout + result.stderr

    weights, metrics = final_state(tmp_path / "whole")
    resumed_weights, resumed_metrics = final_state(killed)
    assert metrics.name == resumed_metrics.name == 3, "both runs end after epoch 3"
    pd.testing.assert_series_equal(metrics, resumed_metrics, rtol=0, atol=1e-6)
    assert all(torch.equal(weights[k], resumed_weights[k]) for k in weights)
    run = next((killed / "train" / "runs").glob("*/checkpoints")).parent
    assert (run / "run_info.json").exists() and (run / "run_info.resumed-1.json").exists()


@pytest.mark.slow
def test_resume_needs_a_run_with_a_last_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="no run with checkpoints/last.ckpt"):
        run_entry_point("train.py", "ckpt_path=last", f"paths.log_dir={tmp_path}")


def test_the_resuming_command_wins_over_the_run_overrides() -> None:
    run = ["experiment=frames", "trainer.max_epochs=10", "seed=3"]
    command = ["ckpt_path=last", "trainer.max_epochs=20", "paths.log_dir=/x"]
    assert continued_overrides(run, command) == [
        "experiment=frames",
        "seed=3",
        "trainer.max_epochs=20",
        "paths.log_dir=/x",
    ]
