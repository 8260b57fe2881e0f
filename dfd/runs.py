"""A run folder: the one place that knows its files, and what makes a run reproducible.

Every train.py / evaluate.py run (and every job of a multirun) writes one folder::

    <run>/
    ├── .hydra/
    │   ├── config.yaml            the composed config (unresolved), what compare/evaluate read
    │   ├── resolved_config.yaml   the same, resolved (what DDP ranks > 0 train from)
    │   ├── overrides.yaml         the command line's overrides (what `ckpt_path=last` reuses)
    │   └── hydra.yaml             Hydra's own settings, with the config-group choices
    ├── run_info.json              versions, git commit, seed, command, DDP world (nodes, devices)
    │                              (run_info.resumed-<k>.json for each resume)
    ├── wandb_id                   the W&B run id, so a resumed run continues the same W&B run
    ├── history.csv                one row per epoch of every scalar metric logged
    ├── ranks.csv                  DDP runs: per epoch and rank (and node), the training clips drawn
    ├── checkpoints/
    │   ├── epoch<NNN>-val_video_auroc<x>.ckpt   the best checkpoint (chosen on validation)
    │   └── last.ckpt                            written every epoch, what resuming starts from
    ├── eval/
    │   ├── threshold.json         the threshold chosen on validation
    │   ├── val_videos.csv         the validation scores it was chosen on
    │   ├── summary.csv, summary.md   one row per test set
    │   └── <dataset>/             videos.csv, clips.csv, frames.csv (frame models), metrics.json,
    │                              figures/, gradcam/, robustness.csv/png, report.html
    ├── export/                    `dfd export` output (<checkpoint>.pt/.onnx and sidecars)
    ├── csv/, tensorboard/, wandb/ what the loggers write
    └── <task_name>.log

Runs live in `<log_dir>/<task>/runs/<time>/` and `<log_dir>/<task>/multiruns/<time>/<job>/`;
runs with a `debug=` config in `<log_dir>/<task>/debug/...`, apart, so `ckpt_path=last` never
picks one. This module reads and names files only: it imports nothing else of dfd.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

HYDRA_DIR = ".hydra"
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
EVAL_DIR = "eval"
RUNS_DIR, MULTIRUNS_DIR, DEBUG_DIR = "runs", "multiruns", "debug"


@dataclass(frozen=True)
class EvalDir:
    """`<run>/eval/<dataset>/`: what evaluating one test set wrote (the report's figure files
    are named by dfd.report)."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def videos(self) -> Path:
        return self.path / "videos.csv"

    @property
    def clips(self) -> Path:
        return self.path / "clips.csv"

    @property
    def frames(self) -> Path:
        return self.path / "frames.csv"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    @property
    def gradcam(self) -> Path:
        return self.path / "gradcam"

    @property
    def robustness_table(self) -> Path:
        return self.path / "robustness.csv"

    @property
    def robustness_plot(self) -> Path:
        return self.path / "robustness.png"

    @property
    def report(self) -> Path:
        return self.path / "report.html"


@dataclass(frozen=True)
class RunDir:
    """One run folder (see the module docstring for its layout)."""

    path: Path

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> RunDir | None:
        """The run folder a checkpoint was saved in (`<run>/checkpoints/`), else None."""
        checkpoint = Path(checkpoint).resolve()
        is_saved_in_run = checkpoint.parent.name == CHECKPOINTS_DIR
        return cls(checkpoint.parent.parent) if is_saved_in_run else None

    # .hydra/
    @property
    def hydra_dir(self) -> Path:
        return self.path / HYDRA_DIR

    @property
    def config(self) -> Path:
        return self.hydra_dir / "config.yaml"

    @property
    def resolved_config(self) -> Path:
        return self.hydra_dir / "resolved_config.yaml"

    @property
    def overrides(self) -> Path:
        return self.hydra_dir / "overrides.yaml"

    @property
    def hydra_settings(self) -> Path:
        return self.hydra_dir / "hydra.yaml"

    # the run's own records
    @property
    def run_info(self) -> Path:
        return self.path / "run_info.json"

    @property
    def history(self) -> Path:
        return self.path / "history.csv"

    @property
    def ranks(self) -> Path:
        return self.path / "ranks.csv"

    @property
    def wandb_id_file(self) -> Path:
        return self.path / "wandb_id"

    # checkpoints/
    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / LAST_CHECKPOINT

    def best_checkpoint(self) -> Path | None:
        """The newest checkpoint not named last (the one chosen on validation), or None."""
        found = [c for c in self.checkpoints_dir.glob("*.ckpt") if c.name != LAST_CHECKPOINT]
        return max(found, key=lambda c: c.stat().st_mtime) if found else None

    # eval/
    @property
    def eval_dir(self) -> Path:
        return self.path / EVAL_DIR

    def evaluation(self, dataset: str) -> EvalDir:
        """`eval/<dataset>/`."""
        return EvalDir(self.eval_dir / dataset)

    def evaluations(self) -> list[EvalDir]:
        """Every `eval/<dataset>/` folder, sorted by name."""
        if not self.eval_dir.is_dir():
            return []
        return [EvalDir(p) for p in sorted(self.eval_dir.iterdir()) if p.is_dir()]

    @property
    def threshold(self) -> Path:
        return self.eval_dir / "threshold.json"

    @property
    def val_videos(self) -> Path:
        return self.eval_dir / "val_videos.csv"

    @property
    def summary_csv(self) -> Path:
        return self.eval_dir / "summary.csv"

    @property
    def summary_md(self) -> Path:
        return self.eval_dir / "summary.md"

    @property
    def export_dir(self) -> Path:
        return self.path / "export"

    # what the files say
    def is_run(self) -> bool:
        """A folder Hydra ran a job in (it holds `.hydra/config.yaml`)."""
        return self.config.is_file()

    def read_config(self) -> dict:
        """The composed config (unresolved), {} when absent or unreadable."""
        return _mapping(_read_yaml(self.config))

    def read_overrides(self) -> list[str]:
        """The overrides the run was started with ([] when unknown)."""
        lines = _read_yaml(self.overrides)
        return [str(line) for line in lines] if isinstance(lines, list) else []

    def choices(self) -> dict:
        """The config-group choices Hydra recorded (`model: resnet18`, `debug: null`, ...)."""
        hydra = _mapping(_mapping(_read_yaml(self.hydra_settings)).get("hydra"))
        return _mapping(_mapping(hydra.get("runtime")).get("choices"))

    def is_debug(self) -> bool:
        """Started with a `debug=` config (or kept in a debug folder)."""
        return self.choices().get("debug") is not None or DEBUG_DIR in self.path.parts

    def data_name(self) -> str | None:
        """The name of the dataset the run used (`data.name` of its config)."""
        name = _mapping(self.read_config().get("data")).get("name")
        return None if name is None else str(name)

    def read_wandb_id(self) -> str | None:
        """The W&B run id saved at the run's first start, or None."""
        if not self.wandb_id_file.is_file():
            return None
        return self.wandb_id_file.read_text().strip() or None

    def write_wandb_id(self, run_id: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.wandb_id_file.write_text(run_id + "\n")


def task_runs(task_dir: Path) -> Iterator[RunDir]:
    """The runs of one task folder (`<log_dir>/<task>`): `runs/*` and `multiruns/*/*`, debug
    runs (kept under `debug/`) left out."""
    for pattern in (f"{RUNS_DIR}/*", f"{MULTIRUNS_DIR}/*/*"):
        for folder in sorted(Path(task_dir).glob(pattern)):
            if folder.is_dir():
                yield RunDir(folder)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


PACKAGES = (
    "dfd",
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "timm",
    "torchmetrics",
    "albumentations",
    "facenet-pytorch",
    "decord",
    "numpy",
    "wandb",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit(root: Path) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def run_info(seed: int | None, root: Path, distributed: dict | None = None) -> dict:
    """Versions of Python and the stack, the platform, the git commit, the seed and, for a
    training run, the processes it ran on (`distributed`: world size, nodes, devices)."""
    return {
        "seed": seed,
        **({"distributed": distributed} if distributed is not None else {}),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": _git_commit(root),
        "command": sys.argv,
        "packages": {name: _version(name) for name in PACKAGES},
    }


def save_run_info(
    output_dir: Path, seed: int | None, root: Path, distributed: dict | None = None
) -> Path:
    """Write run_info.json into the run folder (Hydra already saves the config snapshot).

    A resumed run keeps the first record and adds run_info.resumed-<k>.json beside it.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    path = RunDir(output_dir).run_info
    resumes = 0
    while path.exists():
        resumes += 1
        path = path.with_name(f"run_info.resumed-{resumes}.json")
    path.write_text(json.dumps(run_info(seed, root, distributed), indent=2))
    return path
