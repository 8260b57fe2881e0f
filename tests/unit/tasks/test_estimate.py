"""A recipe's training time from a few of its real steps on the tiny dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from dfd.tasks.estimate import TrainingEstimate, estimate_training
from dfd.tasks.train import build_module_and_data
from helpers.runs import compose_train, tiny_overrides


def test_a_few_steps_give_the_whole_recipe(tiny_prepared: Path, tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, *tiny_overrides(tiny_prepared, tmp_path), "trainer.max_epochs=5")
    estimate = estimate_training(cfg, steps=1)
    _, datamodule = build_module_and_data(cfg)
    datamodule.setup("fit")
    assert estimate.steps_per_epoch == len(datamodule.train_dataloader()) > 1
    assert estimate.epochs == 5
    assert 0 < estimate.seconds_per_step < 60
    whole = estimate.seconds_per_step * estimate.steps_per_epoch * 5
    assert estimate.hours == pytest.approx(whole / 3600)
    assert list(tmp_path.iterdir()) == [], "an estimate writes no run"


def test_the_description_names_its_factors() -> None:
    text = TrainingEstimate(seconds_per_step=12.5, steps_per_epoch=30, epochs=6).describe()
    assert text == "about 0.6 h of training (12.5 s a step x 30 steps x 6 epochs)"
