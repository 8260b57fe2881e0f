"""Configs composed and entry points run as a user runs them, on the tests' tiny data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def compose_train(tmp_path: Path, *overrides: str, config: str = "train") -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            config,
            overrides=[f"paths.output_dir={tmp_path}", f"data.raw_dir={tmp_path}", *overrides],
        )
    OmegaConf.resolve(cfg)
    return cfg


def tiny_overrides(manifest: Path, log_dir: Path) -> list[str]:
    return [
        f"data.prepared_dir={manifest.parent}",
        f"paths.log_dir={log_dir}",
        "datamodule.image_size=48",
        "datamodule.clip_len=2",
        "datamodule.batch_size=4",
        "datamodule.num_workers=0",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "model=resnet18",
    ]


def evaluate_overrides(run: Path, manifest: Path, log_dir: Path) -> list[str]:
    """evaluate.py on a tiny run: its checkpoint, the tiny data, no loader workers."""
    return [
        f"ckpt_path={run}",
        f"data.prepared_dir={manifest.parent}",
        f"paths.log_dir={log_dir}",
        "data_overrides.num_workers=0",
    ]


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


def run_entry_point(
    script: str, *overrides: str, timeout: int = 600, cwd: Path = REPO
) -> subprocess.CompletedProcess:
    """Run train.py / evaluate.py / `-m dfd.prepare` as a user would, failing loudly."""
    command = [
        sys.executable,
        *(["-m", script] if script.startswith("dfd.") else [script]),
        *overrides,
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def run_dfd(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """`dfd ARGS` as a user runs it (through this Python), whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "dfd.cli.main", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
