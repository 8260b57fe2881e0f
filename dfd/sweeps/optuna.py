"""The trial side of an Optuna sweep: a job reports its metric after each validation and stops
when the pruner says so.

The dfd_optuna sweeper passes a job its trial as `++optuna.storage`, `++optuna.study_name`,
`++optuna.trial_number` and `++optuna.pruner` (`trial_overrides`). Under DDP only global rank 0
opens the storage and asks the pruner; the decision is broadcast, so all ranks stop together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import lightning as L
import optuna
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from dfd.sweeps.search_space import format_value

log = logging.getLogger(__name__)


def trial_overrides(
    storage: str, study_name: str, trial_number: int, pruner: Mapping[str, Any]
) -> list[str]:
    """The overrides that tell a job which trial it runs and how trials are pruned."""
    return [
        f"++optuna.storage={format_value(storage)}",
        f"++optuna.study_name={format_value(study_name)}",
        f"++optuna.trial_number={trial_number}",
        f"++optuna.pruner={format_value(dict(pruner))}",
    ]


def trial_callbacks(cfg: DictConfig) -> list[Callback]:
    """[TrialPruning] when the job runs an Optuna trial (`cfg.optuna` is set), else []."""
    trial = cfg.get("optuna")
    if not trial:
        return []
    return [
        TrialPruning(
            trial.storage,
            trial.study_name,
            int(trial.trial_number),
            trial.get("pruner"),
            cfg.optimized_metric,
        )
    ]


class TrialPruning(Callback):
    """Reports `monitor` to the trial after each validation; stops the fit if it is pruned."""

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_number: int,
        pruner: Mapping[str, Any] | None,
        monitor: str,
    ) -> None:
        self.storage, self.study_name, self.trial_number = storage, study_name, trial_number
        self.pruner, self.monitor = pruner, monitor
        self.pruned_at: int | None = None  # the epoch after which the pruner stopped the trial
        self._trial: optuna.Trial | None = None  # opened on rank 0 at the first report

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.pruned_at is not None:
            return
        prune = self.report(trainer) if trainer.is_global_zero else False
        # every rank calls broadcast and gets rank 0's decision: no rank trains on alone
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def report(self, trainer: L.Trainer) -> bool:
        """Report this epoch's value (rank 0 only); True if the pruner prunes the trial."""
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            log.warning("%s was not logged: nothing to report to the Optuna trial", self.monitor)
            return False
        trial = self._trial or self.open_trial()
        trial.report(float(value), step=trainer.current_epoch)
        return trial.should_prune()

    def open_trial(self) -> optuna.Trial:
        """Load the running trial from the storage, with the sweep's pruner."""
        storage = optuna.storages.get_storage(self.storage)
        pruner = instantiate(self.pruner) if self.pruner else optuna.pruners.NopPruner()
        study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=pruner)
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name(self.study_name), self.trial_number
        )
        self._trial = optuna.Trial(study, trial_id)
        return self._trial


def raise_if_pruned(trainer: L.Trainer) -> bool:
    """After fit: on rank 0, raise optuna.TrialPruned if the trial was pruned (the sweeper marks
    it PRUNED). Other ranks get True and must end quietly: Lightning kills rank 0 when a child
    process fails."""
    epochs = [
        c.pruned_at
        for c in trainer.callbacks
        if isinstance(c, TrialPruning) and c.pruned_at is not None
    ]
    if not epochs:
        return False
    if trainer.is_global_zero:
        raise optuna.TrialPruned(f"stopped after epoch {epochs[0]}")
    return True
