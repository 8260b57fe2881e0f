"""Where dfd's configs are (a checkout's conf/ or the wheel's dfd/conf), and helpers for configs
passed into objects that save them (Lightning hyperparameters)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dfd.errors import UsageError

CHECKOUT_CONF = Path(__file__).resolve().parents[1] / "conf"
WHEEL_CONF = Path(__file__).resolve().parent / "conf"  # conf/ as the wheel installs it: dfd.conf
# names the resolved config of a DDP job to its ranks > 0 (dfd.tasks.ddp)
DDP_JOB_CONFIG_ENV = "DFD_DDP_JOB_CONFIG"


def to_plain(config: Any) -> Any:
    """OmegaConf nodes -> plain dicts/lists (resolved), other values unchanged."""
    if isinstance(config, (DictConfig, ListConfig)):
        return OmegaConf.to_container(config, resolve=True)
    return config


def checkout_root() -> Path | None:
    """The repository dfd runs from (conf/ beside the package), or None for an installed dfd."""
    return CHECKOUT_CONF.parent if (CHECKOUT_CONF / "train.yaml").is_file() else None


def config_dir() -> Path:
    """conf/ of the checkout dfd runs from (edits count at once), else the copy the wheel
    installs beside the package, so an installed dfd composes its configs from any folder."""
    return CHECKOUT_CONF if checkout_root() else WHEEL_CONF


def config_search_path() -> str:
    """Hydra's config_path: the absolute path of config_dir()."""
    return str(config_dir())


def config_file(name: str) -> Path:
    """A file or folder of conf/ (`prepare.yaml`, `data`), from the checkout or the wheel."""
    return config_dir() / name


def default_root_dir() -> None:
    """paths.root_dir (where data/ and logs/ go) is the checkout dfd runs from, else the
    current folder (conf/paths/default.yaml reads DFD_ROOT; one set by the user wins)."""
    root = checkout_root()
    if root:
        os.environ.setdefault("DFD_ROOT", str(root))


def missing_values(config: Any, key: str = "") -> list[str]:
    """The full keys of the `???` values of a config, none of its interpolations resolved
    (an interpolation of a missing value is not itself missing: it names the value to set)."""
    if isinstance(config, (DictConfig, ListConfig)):
        config = OmegaConf.to_container(config, resolve=False)
    if isinstance(config, dict):
        return [m for k, v in config.items() for m in missing_values(v, f"{key}{k}.")]
    if isinstance(config, list):
        return [m for i, v in enumerate(config) for m in missing_values(v, f"{key}{i}.")]
    return [key.rstrip(".")] if config == "???" else []


def require_values(cfg: DictConfig) -> None:
    """Stop at the first `???` value the command line left unset, naming its option (before
    anything resolves it, so the message is about `data.raw_dir`, not what reads it)."""
    missing = missing_values(cfg)
    if missing:
        raise UsageError(f"{missing[0]} is not set: add {missing[0]}=... to the command")


def is_joined_ddp_rank() -> bool:
    """Whether this process is a rank > 0 that Lightning started for a training job (it
    trains from rank 0's config instead of parsing its command line; known without torch)."""
    return bool(os.environ.get(DDP_JOB_CONFIG_ENV)) and os.environ.get("LOCAL_RANK", "0") != "0"


# what a launcher sets in each process of a job it starts: torchrun (RANK, GROUP_RANK, LOCAL_RANK),
# a launch by hand on each node (NODE_RANK), srun (SLURM_PROCID), Lightning's own (LOCAL_RANK)
LAUNCHED_RANK_VARIABLES = ("RANK", "NODE_RANK", "GROUP_RANK", "LOCAL_RANK", "SLURM_PROCID")


def is_rank_above_zero() -> bool:
    """Whether this process is a DDP rank other than the job's global rank 0, as its launcher's
    environment says (known without torch): rank 0 owns the run folder, the others write
    nothing there (dfd.tasks.ddp)."""
    return any(os.environ.get(name, "0") not in ("", "0") for name in LAUNCHED_RANK_VARIABLES)
