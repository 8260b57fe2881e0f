"""A run knows its data and its W&B run: `ckpt_path=last` resumes the newest real run (a debug
run after it is skipped) into the same W&B run, and evaluate.py given only the run folder tests
on the data the run trained on (slow: real training)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfd.runs import RunDir
from helpers.runs import only, run_entry_point, tiny_overrides


@pytest.mark.slow
def test_resume_last_and_evaluate_a_run_folder(tiny_prepared: Path, tmp_path: Path) -> None:
    overrides = [*tiny_overrides(tiny_prepared, tmp_path), "test=false", "logger=many"]
    run_entry_point("train.py", *overrides, "trainer.max_epochs=1")
    run = RunDir(only(list((tmp_path / "train" / "runs").iterdir())))
    run_id = run.read_wandb_id()
    assert run_id and len(list((run.path / "wandb").glob(f"offline-run-*-{run_id}"))) == 1

    run_entry_point("train.py", *overrides, "debug=fast")
    debug_run = only(list((tmp_path / "train" / "debug" / "runs").iterdir()))
    assert RunDir(debug_run).last_checkpoint.is_file(), "a debug run that could be picked"

    resumed = run_entry_point(
        "train.py", "ckpt_path=last", "trainer.max_epochs=2", f"paths.log_dir={tmp_path}"
    )
    assert f"ckpt_path=last: resuming {run.path}" in resumed.stdout
    assert run.read_wandb_id() == run_id
    assert len(list((run.path / "wandb").glob(f"offline-run-*-{run_id}"))) == 2

    run_entry_point(
        "evaluate.py",
        f"ckpt_path={run.path}",
        f"paths.log_dir={tmp_path}",
        "data_overrides.num_workers=0",
        "evaluation.robustness.enabled=false",
        "evaluation.gradcam.samples=0",
        "evaluation.gradcam.misclassified=0",
    )
    evaluation = RunDir(only(list((tmp_path / "eval" / "runs").iterdir())))
    videos = pd.read_csv(evaluation.evaluation("demo").videos)
    manifest = pd.read_csv(tiny_prepared, keep_default_na=False)
    tested = manifest[(manifest["split"] == "test") & (manifest["status"] == "ok")]
    assert sorted(videos["video_id"]) == sorted(tested["video_id"])
