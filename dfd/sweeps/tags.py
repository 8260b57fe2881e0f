"""What ties a sweep's jobs together in W&B and tells them apart: the sweep's name (tag and
group) and each job's overrides (tags and run name)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

TAG_LIMIT = 64  # W&B refuses longer tags
NAME_LIMIT = 128  # W&B shows no more
HIDDEN_KEYS = ("optuna.", "++optuna.", "paths.", "data.prepared_dir", "data.raw_dir")
# bookkeeping left out of run names: where the run writes and what it resumes from
UNNAMED_KEYS = (*HIDDEN_KEYS, "hydra.", "logger", "tags", "ckpt_path", "trainer.enable_progress")


def run_name(experiment_name: str, overrides: list[str]) -> str:
    """`sbi seed=2 model=resnet18`: the experiment and the overrides that say what the run does."""
    shown = [o.lstrip("+") for o in overrides if not o.lstrip("+~").startswith(UNNAMED_KEYS)]
    shown = [o for o in shown if o != f"experiment={experiment_name}"]
    return " ".join([experiment_name, *shown])[:NAME_LIMIT]


def sweep_name(cfg: DictConfig) -> str | None:
    """The name of the sweep this job belongs to (Optuna study or the multirun's folder), or None
    outside a multirun."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return cfg.get("optuna", {}).get("study_name") or Path(hydra_cfg.sweep.dir).name


def sweep_tags(sweep_name: str, overrides: list[str]) -> list[str]:
    """`sweep:<name>` and the job's own overrides (not its bookkeeping), each within W&B's limit."""
    shown = [o for o in overrides if not o.lstrip("+~").startswith(HIDDEN_KEYS)]
    return [tag[:TAG_LIMIT] for tag in [f"sweep:{sweep_name}", *shown]]


def tag_sweep_job(cfg: DictConfig) -> DictConfig:
    """In a multirun job, add the sweep tags to `cfg.tags` (what the W&B logger is given)."""
    name = sweep_name(cfg)
    if name is None:
        return cfg
    overrides = list(HydraConfig.get().overrides.task)
    with open_dict(cfg):
        cfg.tags = [*cfg.get("tags", []), *sweep_tags(name, overrides)]
    return cfg
