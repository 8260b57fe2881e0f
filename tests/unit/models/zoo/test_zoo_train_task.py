"""Detectors that train on extra targets run through `train.py`'s task end to end: the task asks
the datamodule for their targets, trains, then scores the test split with the best checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dfd.tasks.train import train
from helpers.runs import compose_train


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        ("model=face_xray",),
        ("model=core", "model.backbone=resnet18"),
        ("model=recce", "model.encoder=resnet18"),
    ],
    ids=lambda overrides: overrides[0],
)
def test_a_detector_with_extra_targets_trains_and_tests(
    tiny_prepared: Path, tmp_path: Path, model: tuple[str, ...]
) -> None:
    cfg = compose_train(
        tmp_path,
        f"data.prepared_dir={tiny_prepared.parent}",
        *model,
        "datamodule.image_size=64",
        "datamodule.clip_len=2",
        "datamodule.batch_size=4",
        "datamodule.num_workers=0",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
    )
    train(cfg)
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert any(key.startswith("detector.") for key in state)
    assert (tmp_path / "eval").is_dir(), "the test split was not scored"
