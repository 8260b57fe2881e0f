"""The `dfd` command: one command per job, its help and version, each command's own --help."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfd.cli.main import COMMANDS
from helpers.runs import REPO, options, run_dfd

ISSUE_COMMANDS = [
    "prepare",
    "check",
    "train",
    "evaluate",
    "predict",
    "export",
    "serve",
    "worker",
    "compare",
    "benchmark",
    "demo",
    "models",
]


def test_help_lists_every_command_on_one_line() -> None:
    result = run_dfd("--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ISSUE_COMMANDS:
        assert len([line for line in lines if line.split()[:1] == [name]]) == 1, name
    assert list(COMMANDS) == ISSUE_COMMANDS


def test_unknown_command_prints_the_list_and_fails() -> None:
    result = run_dfd("fly")
    assert result.returncode == 2
    assert "unknown command 'fly'" in result.stderr
    assert all(name in result.stderr for name in ISSUE_COMMANDS)


def test_version() -> None:
    result = run_dfd("--version")
    assert result.returncode == 0 and result.stdout.startswith("dfd ")


@pytest.mark.parametrize("command", ISSUE_COMMANDS)
def test_every_help_answers_without_torch(command: str) -> None:
    """--help imports nothing heavy: torch (seconds) is not loaded, and it is quick."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('torch loaded' if 'torch' in sys.modules else 'no torch'))\n"
        "from dfd.cli.main import main\n"
        f"sys.exit(main([{command!r}, '--help']))\n"
    )
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("no torch"), result.stdout[-500:]
    assert f"dfd {command}" in result.stdout
    assert elapsed < 10, f"dfd {command} --help took {elapsed:.1f} s"  # < 2 s unloaded


def test_prepare_help_shows_prepare_options_not_training_groups() -> None:
    result = run_dfd("prepare", "--help")
    assert result.returncode == 0, result.stderr
    for setting in ("num_frames", "face_size", "margin", "detect_every", "num_shards"):
        assert setting in result.stdout, setting
    assert all(name in result.stdout for name in options("data"))
    for training_group in ("model", "trainer", "augment", "callbacks", "logger"):
        assert f"\n  {training_group} " not in result.stdout, training_group


def test_train_help_lists_the_training_groups() -> None:
    result = run_dfd("train", "--help")
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in options("model"))
    assert "optimized_metric" in result.stdout


def test_prepare_takes_hydra_overrides(tmp_path: Path) -> None:
    result = run_dfd(
        "prepare", "--cfg", "job", "data=csv", f"data.raw_dir={tmp_path}", "prepare.num_frames=3"
    )
    assert result.returncode == 0, result.stderr
    assert "num_frames: 3" in result.stdout and str(tmp_path) in result.stdout


@pytest.mark.parametrize("command,config_key", [("train", "datamodule"), ("evaluate", "datasets")])
def test_train_and_evaluate_compose_their_configs_from_any_folder(
    tmp_path: Path, command: str, config_key: str
) -> None:
    result = run_dfd(command, "--cfg", "job", "seed=7", "ckpt_path=x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{config_key}:" in result.stdout and "seed: 7" in result.stdout
