"""One W&B run per run folder: named from the experiment and its overrides, grouped by sweep,
and continued (same id, `resume="allow"`) when the run folder is resumed."""

from __future__ import annotations

import uuid
from pathlib import Path

from omegaconf import DictConfig, open_dict

from dfd.runs import RunDir
from dfd.sweeps.tags import run_name, sweep_name

WANDB_LOGGER = "lightning.pytorch.loggers.WandbLogger"


def wandb_run_id(run: RunDir) -> str:
    """The W&B id kept in the run folder, made and saved at the run's first start."""
    run_id = run.read_wandb_id()
    if run_id is None:
        run_id = uuid.uuid4().hex[:8]
        run.write_wandb_id(run_id)
    return run_id


def identify_wandb_run(cfg: DictConfig) -> DictConfig:
    """Give the config's W&B loggers the run's id, name and group (inside a Hydra job, rank 0).

    The name comes from the overrides the run folder recorded at its start, so a resumed run
    keeps its name; a multirun job's group is its sweep's name.
    """
    entries = [
        entry
        for entry in (cfg.get("logger") or {}).values()
        if isinstance(entry, DictConfig) and entry.get("_target_") == WANDB_LOGGER
    ]
    if not entries:
        return cfg
    run = RunDir(Path(cfg.paths.output_dir))
    run_id, name, group = (
        wandb_run_id(run),
        run_name(str(cfg.experiment_name), run.read_overrides()),
        sweep_name(cfg),
    )
    for entry in entries:
        with open_dict(entry):
            entry.update(id=run_id, resume="allow", name=name)
            if group is not None:
                entry.group = group
    return cfg
