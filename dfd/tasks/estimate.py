"""How long a training recipe would take on this machine, from a few of its real steps.

Before hours of CPU (or a cluster slot) go to a detector, a few training steps on the real data,
with the recipe's trainer, precision and batch size, say what a whole run costs: the zoo
benchmark uses it to leave out detectors that would not finish here and to say so in its table.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from dfd.tasks.train import build_module_and_data


@dataclass(frozen=True)
class TrainingEstimate:
    """Seconds a training step takes (data loading included) and the recipe's step count."""

    seconds_per_step: float
    steps_per_epoch: int
    epochs: int

    @property
    def hours(self) -> float:
        """The training alone (validation and testing come on top)."""
        return self.seconds_per_step * self.steps_per_epoch * self.epochs / 3600

    def describe(self) -> str:
        return (
            f"about {self.hours:.1f} h of training ({self.seconds_per_step:.1f} s a step x "
            f"{self.steps_per_epoch} steps x {self.epochs} epochs)"
        )


class StepClock(L.Callback):
    """When each training step ends; the gaps between them include loading the next batch."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self.ends.append(time.perf_counter())


def estimate_training(cfg: DictConfig, steps: int = 2) -> TrainingEstimate:
    """Time `steps` training steps of the composed training config `cfg` after a first one (its
    warm-up is not counted), every parameter trained, no validation, nothing written."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps}")
    module, datamodule = build_module_and_data(cfg)
    clock = StepClock()
    with tempfile.TemporaryDirectory(prefix="dfd-estimate-") as scratch:
        trainer: L.Trainer = instantiate(
            cfg.trainer,
            default_root_dir=scratch,
            max_steps=steps + 1,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[clock],
        )
        trainer.fit(module, datamodule=datamodule)
    if len(clock.ends) < 2:
        raise ValueError(
            f"only {len(clock.ends)} training step ran: the training split is too small to time "
            f"{steps + 1} steps"
        )
    seconds = (clock.ends[-1] - clock.ends[0]) / (len(clock.ends) - 1)
    return TrainingEstimate(seconds, int(trainer.num_training_batches), int(cfg.trainer.max_epochs))
