"""Callbacks of dfd's own, and small pieces that Lightning callbacks take from config."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback


def constant_lr_factor(epoch: int) -> float:
    """For BackboneFinetuning's `lambda_func`: keep the unfrozen backbone's learning rate."""
    return 1.0


class RandomStateCheckpoint(Callback):
    """Saves the global random states (Python, NumPy, torch) in every checkpoint and restores them.

    Dropout and MixUp draw from these generators; Lightning does not checkpoint them, so without
    this a resumed run would draw differently from an uninterrupted one.
    """

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        name, keys, position, has_gauss, gauss = np.random.get_state()
        # plain types only, so checkpoints still load with torch.load(weights_only=True)
        checkpoint["random_states"] = {
            "python": random.getstate(),
            "numpy": (name, keys.tolist(), position, has_gauss, gauss),
            "torch": torch.get_rng_state(),
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        states = checkpoint.get("random_states")
        if states is None:
            return
        random.setstate(states["python"])
        name, keys, position, has_gauss, gauss = states["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
        torch.set_rng_state(states["torch"])


class EpochHistory(Callback):
    """Writes `history.csv` in the run folder: one row per epoch with every scalar metric logged
    so far (train loss, validation loss and AUC, ...), whatever loggers the run has; the
    report's training curves are drawn from it. A resumed run keeps the earlier epochs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        row = {"epoch": trainer.current_epoch}
        row |= {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if torch.is_tensor(value) and value.numel() == 1 and not name.endswith("_step")
        }
        earlier = pd.read_csv(self.path) if self.path.is_file() else pd.DataFrame()
        if "epoch" in earlier:
            earlier = earlier[earlier["epoch"] < trainer.current_epoch]
        history = pd.concat([earlier, pd.DataFrame([row])], ignore_index=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        history.to_csv(self.path, index=False)


class ClipsPerRank(Callback):
    """Writes `ranks.csv` in the run folder of a DDP run: per epoch and rank (with its node),
    the training clips that rank drew and how many of those another rank drew as well. A
    user sees that every node trained, each on its own share of the epoch (the sampler pads
    the shares to equal length by repeating clips: the only overlap there should be)."""

    COLUMNS = ("epoch", "rank", "node", "local_rank", "clips", "shared")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.drawn: list[torch.Tensor] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.drawn = []

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.world_size > 1 and isinstance(batch, dict) and "clip_idx" in batch:
            self.drawn.append(batch["clip_idx"].detach().flatten())

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size == 1 or not self.drawn:  # no batches, or none naming its clips
            return  # (alike on every rank: the sampler gives each as many batches)
        device = trainer.strategy.root_device
        mine = torch.cat(self.drawn).to(device).long()
        size = torch.tensor(int(mine.max()) + 1, device=device)
        size = int(trainer.strategy.reduce(size, reduce_op="max"))
        own = torch.bincount(mine, minlength=size)
        everyone = trainer.strategy.reduce(own.clone(), reduce_op="sum")
        shared = int(((everyone - own)[mine] > 0).sum())
        row = [trainer.current_epoch, trainer.global_rank, trainer.node_rank, trainer.local_rank]
        stats = torch.tensor([*row, len(mine), shared], device=device)
        gathered: Any = trainer.strategy.all_gather(stats)
        if not trainer.is_global_zero:
            return
        rows = pd.DataFrame(gathered.reshape(-1, len(self.COLUMNS)).tolist(), columns=self.COLUMNS)
        earlier = pd.read_csv(self.path) if self.path.is_file() else pd.DataFrame()
        if "epoch" in earlier:
            earlier = earlier[earlier["epoch"] < trainer.current_epoch]
        pd.concat([earlier, rows], ignore_index=True).to_csv(self.path, index=False)
