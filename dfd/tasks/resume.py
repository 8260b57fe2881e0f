"""`ckpt_path=last` or `ckpt_path=<run folder>`: continue a run where it stopped.

The run is continued in its own folder, with the overrides it was started with (those of
the resuming command win, so `trainer.max_epochs=30` can extend it), so its checkpoints,
best score and logs stay together as one run.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

LAST = "last"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def newest_run(runs_dir: Path, exclude: Path | None = None) -> Path:
    """The most recently written run folder under `runs_dir` that has a last.ckpt."""
    runs = [
        ckpt.parent.parent
        for ckpt in runs_dir.glob(f"*/{LAST_CHECKPOINT}")
        if exclude is None or ckpt.parent.parent.resolve() != exclude.resolve()
    ]
    if not runs:
        raise FileNotFoundError(f"ckpt_path=last: no run with {LAST_CHECKPOINT} under {runs_dir}")
    return max(runs, key=lambda run: (run / LAST_CHECKPOINT).stat().st_mtime)


def run_to_resume(ckpt_path: str, runs_dir: Path, current_dir: Path) -> Path | None:
    """The run folder that `ckpt_path` asks to continue, or None when it names a checkpoint file."""
    if ckpt_path == LAST:
        return newest_run(runs_dir, exclude=current_dir)
    path = Path(ckpt_path)
    if path.is_dir():
        if not (path / LAST_CHECKPOINT).is_file():
            raise FileNotFoundError(f"ckpt_path={path}: the run folder has no {LAST_CHECKPOINT}")
        return path
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={path}: no such checkpoint file or run folder")
    return None


def _key(override: str) -> str:
    return OverridesParser.create().parse_override(override).get_key_element()


def continued_overrides(run_overrides: list[str], command_overrides: list[str]) -> list[str]:
    """The run's own overrides, then the resuming command's (which win on the same key)."""
    command_keys = {_key(o) for o in command_overrides}
    kept = [o for o in run_overrides if _key(o) not in command_keys and _key(o) != "ckpt_path"]
    return kept + [o for o in command_overrides if _key(o) != "ckpt_path"]


def resume_config(cfg: DictConfig) -> DictConfig:
    """The config that continues the run `cfg.ckpt_path` asks for (unchanged if none).

    Called inside a Hydra job: the run's overrides are composed again with this command's,
    and the result writes into the run's folder and resumes from its last.ckpt.
    """
    ckpt_path = cfg.get("ckpt_path")
    if not ckpt_path:
        return cfg
    hydra_cfg = HydraConfig.get()
    current = Path(hydra_cfg.runtime.output_dir)
    run = run_to_resume(str(ckpt_path), Path(cfg.paths.log_dir) / cfg.task_name / "runs", current)
    if run is None:
        return cfg
    run_overrides = list(OmegaConf.load(run / ".hydra" / "overrides.yaml"))
    overrides = continued_overrides(run_overrides, list(hydra_cfg.overrides.task))
    resumed = compose(hydra_cfg.job.config_name, overrides=overrides)
    resumed.paths.output_dir = str(run.resolve())
    resumed.ckpt_path = str((run / LAST_CHECKPOINT).resolve())
    return resumed
