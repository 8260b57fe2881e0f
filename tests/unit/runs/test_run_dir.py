"""RunDir names the files of a run folder the way train.py / evaluate.py write them."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from dfd.runs import RunDir, save_run_info, task_runs

OLD_RUN = Path(__file__).resolve().parents[2] / "fixtures" / "run_before_house"


def test_paths_of_a_run_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.config == tmp_path / ".hydra" / "config.yaml"
    assert run.resolved_config == tmp_path / ".hydra" / "resolved_config.yaml"
    assert run.overrides == tmp_path / ".hydra" / "overrides.yaml"
    assert run.run_info == tmp_path / "run_info.json"
    assert run.history == tmp_path / "history.csv"
    assert run.last_checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert run.threshold == tmp_path / "eval" / "threshold.json"
    assert run.val_videos == tmp_path / "eval" / "val_videos.csv"
    assert run.summary_csv == tmp_path / "eval" / "summary.csv"
    assert run.evaluation("celebdf").metrics == tmp_path / "eval" / "celebdf" / "metrics.json"
    assert run.evaluation("celebdf").videos == tmp_path / "eval" / "celebdf" / "videos.csv"
    assert run.evaluation("celebdf").report == tmp_path / "eval" / "celebdf" / "report.html"


def test_a_real_run_folder_reads_through_run_dir() -> None:
    """The fixture was written by train.py: every name RunDir gives it exists."""
    run = RunDir(OLD_RUN)
    assert run.is_run()
    assert run.run_info.is_file() and run.threshold.is_file() and run.val_videos.is_file()
    assert run.best_checkpoint() == next((OLD_RUN / "checkpoints").glob("epoch*.ckpt"))
    assert run.data_name() == "demo"
    assert run.choices()["model"] and not run.is_debug()
    assert RunDir.of_checkpoint(run.best_checkpoint()) == RunDir(OLD_RUN.resolve())


def test_best_checkpoint_is_the_newest_but_never_last(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.checkpoints_dir.mkdir()
    older, newer = run.checkpoints_dir / "epoch000.ckpt", run.checkpoints_dir / "epoch003.ckpt"
    for age, path in enumerate([run.last_checkpoint, newer, older]):
        path.write_bytes(b"")
        os.utime(path, (1e9 - age, 1e9 - age))
    assert run.best_checkpoint() == newer
    assert RunDir(tmp_path / "empty").best_checkpoint() is None
    assert RunDir.of_checkpoint(tmp_path / "model.ckpt") is None


def test_debug_runs_are_known_by_their_choice_or_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "train" / "runs" / "a")
    run.hydra_dir.mkdir(parents=True)
    run.hydra_settings.write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": {"debug": None}}}})
    )
    assert not run.is_debug()
    run.hydra_settings.write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": {"debug": "fast"}}}})
    )
    assert run.is_debug()
    assert RunDir(tmp_path / "train" / "debug" / "runs" / "b").is_debug()


def test_task_runs_are_single_runs_and_multirun_jobs(tmp_path: Path) -> None:
    for folder in ("runs/r1", "multiruns/m/0", "multiruns/m/1", "debug/runs/d"):
        (tmp_path / folder).mkdir(parents=True)
    names = [run.path.relative_to(tmp_path).as_posix() for run in task_runs(tmp_path)]
    assert names == ["runs/r1", "multiruns/m/0", "multiruns/m/1"]


def test_wandb_id_round_trips(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    assert run.read_wandb_id() is None
    run.write_wandb_id("abc123")
    assert run.read_wandb_id() == "abc123"


def test_run_info_of_a_resumed_run_is_kept_beside(tmp_path: Path) -> None:
    first = save_run_info(tmp_path, 1, tmp_path)
    second = save_run_info(tmp_path, 1, tmp_path)
    assert first == RunDir(tmp_path).run_info
    assert second == tmp_path / "run_info.resumed-1.json"
