"""`dfd train` and `dfd evaluate` (and the repository's train.py / evaluate.py): Hydra mains
over conf/train.yaml and conf/eval.yaml that check the config, then run dfd.tasks' jobs.

The checks run before torch is imported, so a missing setting or an unprepared dataset stops
in a second with what to do. A DDP process of rank > 0, started by Lightning for a job, joins
that job (dfd.tasks.ddp) instead of parsing the command line again, which under `-m` would
launch the whole sweep again. A rank > 0 started from outside (torchrun, srun, the same command
run on each node) composes the same config but leaves the run folder to rank 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from dfd.config import (
    config_search_path,
    is_joined_ddp_rank,
    is_rank_above_zero,
    require_values,
)
from dfd.datasets.configs import dataset_manifests
from dfd.datasets.manifest import require_prepared
from dfd.datasets.streams import require_stream
from dfd.errors import user_errors_past_hydra

# what Hydra writes into the run folder (the config snapshot, the job's log file), left to rank 0
# by the ranks > 0 that compose their config themselves; they log to the console only
RANK_ABOVE_ZERO_OVERRIDES = (
    "hydra.output_subdir=null",
    "hydra.job_logging.root.handlers=[console]",
    "~hydra.job_logging.handlers.file",
)


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="train")
@user_errors_past_hydra
def train_main(cfg: DictConfig) -> float | None:
    """Fit, choose the checkpoint on validation, test it (dfd.tasks.train.train)."""
    require_values(cfg)
    resuming = cfg.get("ckpt_path") == "last"  # the resumed run's own config names its data
    if not resuming and (cfg.get("train", True) or cfg.get("test", True)):
        if cfg.datamodule.get("stream_url"):  # the stream carries its manifest
            require_stream(cfg.datamodule.stream_url)
        else:
            require_prepared(Path(cfg.datamodule.manifest_path), str(cfg.data.name))
    if not resuming and cfg.get("test", True):  # before training, not hours later
        for name, manifest in dataset_manifests(cfg, cfg.get("test_datasets") or []).items():
            require_prepared(manifest, name)
    from dfd.tasks.ddp import job_scope
    from dfd.tasks.train import train

    with job_scope():
        return train(cfg)


@hydra.main(version_base="1.3", config_path=config_search_path(), config_name="eval")
@user_errors_past_hydra
def evaluate_main(cfg: DictConfig) -> dict[str, Any]:
    """Score a checkpoint on the test split of one or several datasets (dfd.tasks.evaluate)."""
    require_values(cfg)
    from dfd.tasks.evaluate import evaluate

    return evaluate(cfg)


def train_command() -> None:
    """`dfd train` / train.py: join the job of rank 0, or compose the config and train (a
    rank > 0 started from outside without writing into the run folder)."""
    if is_joined_ddp_rank():
        from dfd.tasks.ddp import joined_job_config
        from dfd.tasks.train import train

        train(joined_job_config())
        return
    if is_rank_above_zero():  # every node runs the command: rank 0 keeps the records
        sys.argv += RANK_ABOVE_ZERO_OVERRIDES
    train_main()


def evaluate_command() -> None:
    """`dfd evaluate` / evaluate.py."""
    evaluate_main()
