"""The zoo's detectors train and test side by side in one Hydra multirun (`-m model=a,b,c`),
each under its own class with its own extra targets, as a user comparing them would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from helpers.runs import run_entry_point

# one of each kind: a baseline, a frequency detector, a blending-boundary detector with masks,
# a two-view consistency detector, a reconstruction detector
SWEPT = {
    "xception": "dfd.models.zoo.xception.Xception",
    "f3net": "dfd.models.zoo.f3net.F3Net",
    "face_xray": "dfd.models.zoo.face_xray.FaceXray",
    "core": "dfd.models.zoo.core.CORE",
    "recce": "dfd.models.zoo.recce.RECCE",
}


@pytest.mark.slow
def test_a_sweep_over_detectors_trains_and_tests_each(tiny_prepared: Path, tmp_path: Path) -> None:
    run_entry_point(
        "train.py",
        "-m",
        f"model={','.join(SWEPT)}",
        "debug=fast",
        f"data.prepared_dir={tiny_prepared.parent}",
        f"paths.log_dir={tmp_path}",
        "datamodule.image_size=64",
        "datamodule.clip_len=1",
        "datamodule.batch_size=2",
        "evaluation.report=false",
        "trainer.enable_progress_bar=false",
        timeout=900,
    )
    (sweep,) = (tmp_path / "train" / "debug" / "multiruns").iterdir()
    trained = {}
    for job in (path for path in sweep.iterdir() if path.is_dir()):
        cfg = OmegaConf.load(job / ".hydra" / "config.yaml")
        choice = OmegaConf.load(job / ".hydra" / "hydra.yaml").hydra.runtime.choices.model
        trained[choice] = cfg.model._target_
        metrics = json.loads((job / "eval" / "demo" / "metrics.json").read_text())
        assert "auroc" in metrics["video"], job
        assert list(job.rglob("*.ckpt")), f"{choice} saved no checkpoint"
    assert trained == SWEPT


@pytest.mark.slow
def test_a_sweep_mixes_image_and_video_detectors(tiny_raw: Path, tmp_path: Path) -> None:
    """`-m model=xception,f3net,tall`: TALL needs consecutive frames, so the tiny demo is
    prepared densely (25 fps) and every detector of the sweep trains on the same clips."""
    prepared = tmp_path / "dense"
    run_entry_point(
        "dfd.prepare",
        "data=demo",
        f"data.raw_dir={tiny_raw}",
        f"data.prepared_dir={prepared}",
        "prepare.fps=25",
        "prepare.max_frames=8",
        "prepare.face_size=64",
    )
    run_entry_point(
        "train.py",
        "-m",
        "model=xception,f3net,tall",
        "debug=fast",
        f"data.prepared_dir={prepared}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "datamodule.image_size=64",
        "datamodule.clip_len=4",
        "datamodule.batch_size=2",
        "evaluation.report=false",
        "trainer.enable_progress_bar=false",
        timeout=900,
    )
    (sweep,) = (tmp_path / "logs" / "train" / "debug" / "multiruns").iterdir()
    tested = {
        OmegaConf.load(job / ".hydra" / "hydra.yaml").hydra.runtime.choices.model: json.loads(
            (job / "eval" / "demo" / "metrics.json").read_text()
        )["num_clips"]
        for job in sweep.iterdir()
        if job.is_dir()
    }
    assert set(tested) == {"xception", "f3net", "tall"} and min(tested.values()) > 0
