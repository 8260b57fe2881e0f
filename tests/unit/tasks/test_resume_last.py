"""`ckpt_path=last` picks the newest run of the same task and dataset, never a debug run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from dfd.runs import RunDir
from dfd.tasks.resume import newest_run, run_to_resume


def make_run(
    task_dir: Path, folder: str, data: str, written: float, debug: str | None = None
) -> RunDir:
    """A run folder as train.py leaves it: config, Hydra's choices and a last.ckpt."""
    run = RunDir(task_dir / folder)
    run.hydra_dir.mkdir(parents=True)
    run.config.write_text(yaml.safe_dump({"task_name": "train", "data": {"name": data}}))
    choices = {"hydra": {"runtime": {"choices": {"debug": debug, "data": data}}}}
    run.hydra_settings.write_text(yaml.safe_dump(choices))
    run.overrides.write_text(yaml.safe_dump([f"data={data}"]))
    run.checkpoints_dir.mkdir()
    run.last_checkpoint.write_bytes(b"")
    os.utime(run.last_checkpoint, (written, written))
    return run


def test_the_newest_run_on_the_same_data(tmp_path: Path) -> None:
    make_run(tmp_path, "runs/old", "demo", 100)
    newest = make_run(tmp_path, "multiruns/sweep/1", "demo", 300)
    make_run(tmp_path, "runs/other_data", "celebdf", 400)
    assert newest_run(tmp_path, "demo") == newest
    assert newest_run(tmp_path, "celebdf").path.name == "other_data"


def test_debug_runs_are_never_last(tmp_path: Path) -> None:
    kept = make_run(tmp_path, "runs/real", "demo", 100)
    make_run(tmp_path, "runs/chose_debug", "demo", 500, debug="fast")
    make_run(tmp_path, "debug/runs/in_debug_folder", "demo", 600)
    assert newest_run(tmp_path, "demo") == kept


def test_the_current_folder_is_not_its_own_last(tmp_path: Path) -> None:
    older = make_run(tmp_path, "runs/a", "demo", 100)
    current = make_run(tmp_path, "runs/b", "demo", 200)
    assert newest_run(tmp_path, "demo", exclude=current.path) == older


def test_last_says_which_run_it_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = make_run(tmp_path, "runs/a", "demo", 100)
    assert run_to_resume("last", tmp_path, tmp_path / "runs" / "now", "demo") == run
    assert f"ckpt_path=last: resuming {run.path}" in capsys.readouterr().out


def test_no_run_to_resume(tmp_path: Path) -> None:
    make_run(tmp_path, "runs/debug_only", "demo", 100, debug="fast")
    make_run(tmp_path, "runs/celebdf", "celebdf", 100)
    with pytest.raises(FileNotFoundError, match="no run with checkpoints/last.ckpt on data demo"):
        newest_run(tmp_path, "demo")


def test_a_run_folder_without_last_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="the run folder has no checkpoints/last.ckpt"):
        run_to_resume(str(tmp_path), tmp_path, tmp_path / "now")
