"""DDP inside Hydra: the processes of rank > 0 join the job of rank 0, never a sweep of their own.

Lightning starts the other ranks of a job by running the script again with the command line
it was given. Under a Hydra multirun that command holds `-m`, so each rank would launch the
whole sweep again, into folders of its own. Instead, rank 0 writes its job's resolved config
into the job folder and names it in the environment its ranks inherit; a process started
with that variable and a non-zero LOCAL_RANK trains from that config, without Hydra.

When a launcher starts every process itself (torchrun, srun, the same command run on each
node), each composes its config from the same command line; the job's global rank 0 owns the
run folder and the others write nothing there (a node's own ranks get its config from a
node-local file). All must be given the same run folder (`hydra.run.dir`): the ranks check it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf

from dfd.config import DDP_JOB_CONFIG_ENV as JOB_CONFIG_ENV
from dfd.config import is_rank_above_zero
from dfd.runs import RunDir

NODE_LOCAL_PREFIX = "dfd-ddp-job-"  # the temporary folder of a rank > 0's shared config


def share_job_config(cfg: DictConfig, output_dir: Path) -> Path:
    """Write the job's fully resolved config to its folder and point child ranks at it (a rank
    > 0 that composed its own config, on another node, writes it to a node-local file)."""
    if is_rank_above_zero():
        path = Path(tempfile.mkdtemp(prefix=NODE_LOCAL_PREFIX)) / "resolved_config.yaml"
    else:
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
    "processes launched from outside" and wait for ranks that are gone. The node-local copy
    of the config a rank > 0 shared goes too.
    """
    environment = dict(os.environ)
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        shared = Path(os.environ.get(JOB_CONFIG_ENV) or ".").parent
        if shared.name.startswith(NODE_LOCAL_PREFIX):
            shutil.rmtree(shared, ignore_errors=True)
        os.environ.clear()
        os.environ.update(environment)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_digest(cfg: DictConfig) -> str:
    """A short hash of the resolved config (what every rank of a job must agree on), its
    loggers left out: they log from rank 0 only, which alone names the W&B run."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    resolved.pop("logger", None)
    return _digest(OmegaConf.to_yaml(resolved))


def _gathered_digests(trainer: L.Trainer, digest: str) -> set[str]:
    """The digests of every rank (63 bits each, what a long tensor holds)."""
    mine = torch.tensor(int(digest, 16) >> 1, dtype=torch.long, device=trainer.strategy.root_device)
    gathered: Any = trainer.strategy.all_gather(mine)
    return {f"{int(value):016x}" for value in gathered.flatten().tolist()}


class SameConfigOnEveryRank(L.Callback):
    """Fails the job at start-up when its ranks were given different configs or run folders.

    That happens when ranks compose their own config (each sampling its own sweep
    parameters, say, or each node naming its run folder by its own start time); dfd's
    ranks share rank 0's, or are given the same `hydra.run.dir`, and this check proves it.
    """

    def __init__(self, digest: str, output_dir: str | Path) -> None:
        self.digest = digest
        self.output_dir = str(output_dir)
        self.checked = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size == 1 or self.checked:
            return
        self.checked = True
        if len(_gathered_digests(trainer, _digest(self.output_dir))) != 1:
            raise RuntimeError(
                f"the {trainer.world_size} ranks of this job write to different run folders "
                f"(rank {trainer.global_rank}: {self.output_dir}): give every node the same "
                "hydra.run.dir=..."
            )
        digests = _gathered_digests(trainer, self.digest)
        if len(digests) != 1:
            raise RuntimeError(
                f"the {trainer.world_size} ranks of this job have different "
                f"configs (digests {sorted(digests)})"
            )
        rank_zero_info(f"config identical on all {trainer.world_size} ranks (sha256 {self.digest})")
