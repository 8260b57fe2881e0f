"""The sweeper's config, registered as `hydra/sweeper=dfd_optuna`.

No `from __future__ import annotations` here: Hydra runs plugin modules before they are in
sys.modules, where dataclasses would look string annotations up.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class DfdOptunaSweeperConf:
    """Settings of an Optuna study run through the Hydra launcher (see conf/hparams_search)."""

    _target_: str = "hydra_plugins.dfd_optuna_sweeper.sweeper.DfdOptunaSweeper"
    # sampler and pruner reach the sweeper as configs (the pruner is also passed to each job)
    _recursive_: bool = False
    # a SQLAlchemy URL (e.g. postgresql://host/db); null keeps the study in memory (no resume,
    # no pruning: jobs cannot reach it)
    storage: str | None = "sqlite:///${paths.log_dir}/optuna/${hydra.sweeper.study_name}.db"
    study_name: str = "${task_name}"
    direction: str = "maximize"
    # trials in the study in total, counting those already there (failed ones excepted)
    n_trials: int = 20
    # trials launched together (one launcher batch)
    n_jobs: int = 1
    # the sweep stops after this many failed trials in one run
    max_failures: int = 5
    sampler: dict[str, Any] | None = field(
        default_factory=lambda: {"_target_": "optuna.samplers.TPESampler", "seed": 42}
    )
    # null: no pruning
    pruner: dict[str, Any] | None = field(
        default_factory=lambda: {"_target_": "optuna.pruners.MedianPruner"}
    )
    # key: an override in Hydra's grammar, e.g. tag(log, interval(1e-5, 1e-3)), choice(a, b)
    params: dict[str, str] | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="dfd_optuna", node=DfdOptunaSweeperConf, provider="dfd"
)
