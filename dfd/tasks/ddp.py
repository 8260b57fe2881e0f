"""DDP inside Hydra: the processes of rank > 0 join the job of rank 0, never a sweep of their own.

Lightning starts the other ranks of a job by running the script again with the command line
it was given. Under a Hydra multirun that command holds `-m`, so each rank would launch the
whole sweep again, into folders of its own. Instead, rank 0 writes its job's resolved config
into the job folder and names it in the environment its ranks inherit; a process started
with that variable and a non-zero LOCAL_RANK trains from that config, without Hydra.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf

from dfd.config import DDP_JOB_CONFIG_ENV as JOB_CONFIG_ENV
from dfd.runs import RunDir


def share_job_config(cfg: DictConfig, output_dir: Path) -> Path:
    """Write the job's fully resolved config to its folder and point child ranks at it."""
    path = RunDir(output_dir).resolved_config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    os.environ[JOB_CONFIG_ENV] = str(path)
    return path


def joined_job_config() -> DictConfig | None:
    """In a rank > 0 process that Lightning started for a job: that job's config, else None."""
    path = os.environ.get(JOB_CONFIG_ENV)
    if not path or os.environ.get("LOCAL_RANK", "0") == "0":
        return None
    return OmegaConf.load(path)


@contextmanager
def job_scope() -> Iterator[None]:
    """Leave no trace of a job's DDP in the process, so the next job of a multirun starts clean.

    Lightning sets LOCAL_RANK, WORLD_SIZE, MASTER_PORT... in the environment of the process
    that launches the ranks and keeps its process group; the next job would take them as
    "processes launched from outside" and wait for ranks that are gone.
    """
    environment = dict(os.environ)
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(environment)


def config_digest(cfg: DictConfig) -> str:
    """A short hash of the resolved config (what every rank of a job must agree on)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SameConfigOnEveryRank(L.Callback):
    """Fails the job at start-up when its ranks were given different configs.

    That happens when ranks compose their own config (each sampling its own sweep
    parameters, say); dfd's ranks share rank 0's, and this check proves it.
    """

    def __init__(self, digest: str) -> None:
        self.digest = digest
        self.checked = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size == 1 or self.checked:
            return
        self.checked = True
        mine = torch.tensor(int(self.digest, 16) >> 1, dtype=torch.long)
        gathered: Any = trainer.strategy.all_gather(mine)
        digests = {f"{int(value):016x}" for value in gathered.flatten().tolist()}
        if len(digests) != 1:
            raise RuntimeError(
                f"the {trainer.world_size} ranks of this job have different "
                f"configs (digests {sorted(digests)})"
            )
        rank_zero_info(f"config identical on all {trainer.world_size} ranks (sha256 {self.digest})")
