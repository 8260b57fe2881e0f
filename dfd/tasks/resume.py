"""`ckpt_path=last` or `ckpt_path=<run folder>`: continue a run where it stopped.

The run is continued in its own folder, with the overrides it was started with (those of
the resuming command win, so `trainer.max_epochs=30` can extend it), so its checkpoints,
best score, logs and W&B run stay together as one run. `last` is the newest run of the same
task on the same dataset; debug runs (`debug=...`) are never picked.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from dfd.runs import CHECKPOINTS_DIR, LAST_CHECKPOINT, RunDir, task_runs

LAST = "last"
LAST_IN_RUN = f"{CHECKPOINTS_DIR}/{LAST_CHECKPOINT}"


def newest_run(task_dir: Path, data_name: str | None, exclude: Path | None = None) -> RunDir:
    """The run under `task_dir` (`<log_dir>/<task>`) whose last.ckpt was written last, among
    those on the dataset `data_name` (any when None), debug runs and `exclude` left out."""
    runs = [
        run
        for run in task_runs(task_dir)
        if run.last_checkpoint.is_file()
        and not run.is_debug()
        and (data_name is None or run.data_name() == data_name)
        and (exclude is None or run.path.resolve() != exclude.resolve())
    ]
    if not runs:
        on = f" on data {data_name}" if data_name else ""
        raise FileNotFoundError(f"ckpt_path=last: no run with {LAST_IN_RUN}{on} under {task_dir}")
    return max(runs, key=lambda run: run.last_checkpoint.stat().st_mtime)


def run_to_resume(
    ckpt_path: str, task_dir: Path, current_dir: Path, data_name: str | None = None
) -> RunDir | None:
    """The run folder that `ckpt_path` asks to continue, or None when it names a checkpoint file."""
    if ckpt_path == LAST:
        run = newest_run(task_dir, data_name, exclude=current_dir)
        print(f"ckpt_path=last: resuming {run.path}")
        return run
    path = Path(ckpt_path)
    if path.is_dir():
        if not RunDir(path).last_checkpoint.is_file():
            raise FileNotFoundError(f"ckpt_path={path}: the run folder has no {LAST_IN_RUN}")
        return RunDir(path)
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
    task_dir = Path(cfg.paths.log_dir) / cfg.task_name
    run = run_to_resume(str(ckpt_path), task_dir, current, cfg.data.get("name"))
    if run is None:
        return cfg
    overrides = continued_overrides(run.read_overrides(), list(hydra_cfg.overrides.task))
    resumed = compose(hydra_cfg.job.config_name, overrides=overrides)
    resumed.paths.output_dir = str(run.path.resolve())
    resumed.ckpt_path = str(run.last_checkpoint.resolve())
    return resumed
