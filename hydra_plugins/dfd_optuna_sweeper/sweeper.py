"""The dfd_optuna sweeper: ask Optuna for trials, run them through the Hydra launcher, tell results."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class DfdOptunaSweeper(Sweeper):
    """Runs `n_trials` trials of an Optuna study in batches of `n_jobs` Hydra jobs (ask/tell).

    Every job gets its sampled values and, with a storage, `++optuna.storage`,
    `++optuna.study_name`, `++optuna.trial_number` and `++optuna.pruner` so that it can report
    intermediate values and be pruned (dfd.sweeps.optuna).
    """

    def __init__(
        self,
        storage: str | None,
        study_name: str,
        direction: str,
        n_trials: int,
        n_jobs: int,
        max_failures: int,
        sampler: DictConfig | None,
        pruner: DictConfig | None,
        params: DictConfig | None,
    ) -> None:
        if n_jobs < 1 or max_failures < 1:
            raise ValueError("hydra.sweeper.n_jobs and max_failures must be at least 1")
        self.storage, self.study_name, self.direction = storage, study_name, direction
        self.n_trials, self.n_jobs, self.max_failures = n_trials, n_jobs, max_failures
        self.sampler = container(sampler)
        self.pruner = container(pruner)
        self.params = container(params)
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> dict[str, Any]:
        """Run trials until the study holds n_trials (or max_failures failed); report the best."""
        # imported here: Hydra imports every plugin at each start, and optuna alone takes 0.4 s
        from dfd.sweeps import study as studies
        from dfd.sweeps.optuna import trial_overrides
        from dfd.sweeps.search_space import parse_search_space

        assert self.hydra_context is not None and self.config is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(
            [*(f"{k}={v}" for k, v in self.params.items()), *arguments], parser
        )
        study = studies.open_study(
            self.storage, self.study_name, self.direction, self.sampler, self.pruner
        )
        if self.storage is None:
            log.warning("in-memory study: no resume, and jobs cannot report to it (no pruning)")
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        log.info(
            "study %r: %d of %d trials present; searching %s",
            self.study_name,
            studies.count_trials(study),
            self.n_trials,
            list(space.distributions),
        )

        job_index = failures = 0
        while (size := min(self.n_jobs, self.n_trials - studies.count_trials(study))) > 0:
            trials = [study.ask(space.distributions) for _ in range(size)]
            batch = [
                space.overrides(t.params)
                + (
                    trial_overrides(self.storage, self.study_name, t.number, self.pruner)
                    if self.storage
                    else []
                )
                for t in trials
            ]
            failures += studies.run_batch(
                study,
                trials,
                validate=partial(self.validate_batch_is_legal, batch),
                launch=partial(self.launcher.launch, batch, initial_job_idx=job_index),
            )
            job_index += size
            if failures >= self.max_failures:
                break
        summary = studies.write_summary(study, sweep_dir / "optimization_results.yaml")
        if failures >= self.max_failures:
            raise RuntimeError(
                f"sweep stopped: {failures} trials failed (max_failures), see the log above for why"
            )
        return summary


def container(node: DictConfig | None) -> dict[str, Any]:
    """A config node as a plain dict ({} for null)."""
    return dict(OmegaConf.to_container(node, resolve=True)) if node is not None else {}
