"""Tags that tie a sweep's jobs together in W&B: the sweep's name and each job's overrides."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

TAG_LIMIT = 64  # W&B refuses longer tags
HIDDEN_KEYS = ("optuna.", "++optuna.", "paths.", "data.prepared_dir", "data.raw_dir")


def sweep_tags(sweep_name: str, overrides: list[str]) -> list[str]:
    """`sweep:<name>` and the job's own overrides (not its bookkeeping), each within W&B's limit."""
    shown = [o for o in overrides if not o.lstrip("+~").startswith(HIDDEN_KEYS)]
    return [tag[:TAG_LIMIT] for tag in [f"sweep:{sweep_name}", *shown]]


def tag_sweep_job(cfg: DictConfig) -> DictConfig:
    """In a multirun job, add the sweep tags to `cfg.tags` (what the W&B logger is given)."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return cfg
    name = cfg.get("optuna", {}).get("study_name") or Path(hydra_cfg.sweep.dir).name
    with open_dict(cfg):
        cfg.tags = [*cfg.get("tags", []), *sweep_tags(name, list(hydra_cfg.overrides.task))]
    return cfg
