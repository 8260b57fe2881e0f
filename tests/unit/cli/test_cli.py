"""The `dfd` command dispatches to the package's own entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from dfd.cli.main import main; main()"]


def test_unknown_command_prints_usage_and_fails() -> None:
    result = subprocess.run([*CLI, "fly"], capture_output=True, text=True)
    assert result.returncode == 2 and "prepare" in result.stderr and "demo" in result.stderr


def test_help_succeeds() -> None:
    result = subprocess.run([*CLI, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: dfd COMMAND" in result.stdout


def test_prepare_takes_hydra_overrides(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *CLI,
            "prepare",
            "--cfg",
            "job",
            "data=csv",
            f"data.raw_dir={tmp_path}",
            "prepare.num_frames=3",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "num_frames: 3" in result.stdout and str(tmp_path) in result.stdout
