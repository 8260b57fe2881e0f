"""Run folders and checkpoints written before the package layout changed still load and evaluate
(tests/fixtures/run_before_house, made by dfd at c9be97c)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from dfd.inference.checkpoint import load_checkpoint
from dfd.models import FrameDetector
from helpers.runs import evaluate_overrides, run_entry_point

OLD_RUN = Path(__file__).resolve().parents[1] / "fixtures" / "run_before_house"


def test_old_config_names_moved_modules() -> None:
    """The fixture really stores old paths: otherwise the tests below prove nothing."""
    config = (OLD_RUN / ".hydra" / "config.yaml").read_text()
    assert "dfd.data.labels.read_label_csv" in config


def test_an_old_checkpoint_loads_with_its_threshold() -> None:
    (checkpoint,) = (OLD_RUN / "checkpoints").glob("epoch*.ckpt")
    loaded = load_checkpoint(checkpoint)
    assert isinstance(loaded.detector, FrameDetector)
    clip = torch.rand(1, 2, 3, 48, 48)
    assert loaded.detector(clip).shape == (1,)
    assert loaded.spec.threshold.value == pytest.approx(0.5012, abs=1e-3)


@pytest.mark.slow
def test_an_old_run_folder_evaluates(tiny_prepared: Path, tmp_path: Path) -> None:
    run = shutil.copytree(OLD_RUN, tmp_path / "old_run")
    run_entry_point(
        "evaluate.py",
        *evaluate_overrides(run, tiny_prepared, tmp_path),
        "evaluation.robustness.enabled=false",
    )
    (evaluation,) = (tmp_path / "eval" / "runs").iterdir()
    videos = pd.read_csv(evaluation / "eval" / "demo" / "videos.csv")
    manifest = pd.read_csv(tiny_prepared, keep_default_na=False)
    tested = manifest[(manifest["split"] == "test") & (manifest["status"] == "ok")]
    assert sorted(videos["video_id"]) == sorted(tested["video_id"])
    assert videos["score"].between(0, 1).all()
