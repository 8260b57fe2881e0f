"""A benchmark's plan (`conf/benchmark/<name>.yaml`): which detectors train on which datasets
and are tested on which, with one shared recipe; and the Hydra multirun that carries it out.

Every cell of the table is one `dfd train` job of the multirun (so any Hydra launcher runs
it: local processes, `hydra/launcher=submitit_slurm` on a cluster); each job tests its
checkpoint on its own test split and on the plan's other test sets (`test_datasets`), with
the threshold chosen on its own validation split.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

PLAN_FILE = "benchmark.yaml"  # the plan, saved in the sweep folder before it starts


@dataclass(frozen=True)
class BenchmarkPlan:
    """Detectors (conf/model names) x train sets x test sets (conf/data names), the recipe
    (train overrides every cell shares), and the names `results/published.csv` gives the same
    detectors and datasets (for the published numbers beside ours)."""

    name: str
    detectors: tuple[str, ...]
    train_sets: tuple[str, ...]
    test_sets: tuple[str, ...]
    recipe: tuple[str, ...] = ()
    published_detectors: Mapping[str, str] = field(default_factory=dict)
    published_datasets: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: DictConfig | Mapping[str, Any]) -> BenchmarkPlan:
        plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
        for key in ("detectors", "train_sets", "test_sets"):
            if not plain.get(key):
                raise ValueError(f"benchmark.{key} is empty: name at least one")
        published = plain.get("published") or {}
        return cls(
            name=str(plain["name"]),
            detectors=tuple(plain["detectors"]),
            train_sets=tuple(plain["train_sets"]),
            test_sets=tuple(plain["test_sets"]),
            recipe=tuple(plain.get("recipe") or ()),
            published_detectors=dict(published.get("detectors") or {}),
            published_datasets=dict(published.get("datasets") or {}),
        )

    def to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "detectors": list(self.detectors),
            "train_sets": list(self.train_sets),
            "test_sets": list(self.test_sets),
            "recipe": list(self.recipe),
            "published": {
                "detectors": dict(self.published_detectors),
                "datasets": dict(self.published_datasets),
            },
        }

    def cells(self) -> list[tuple[str, str, str]]:
        """Every (detector, train set, test set) the leaderboard should fill."""
        return [
            (detector, train, test)
            for detector in self.detectors
            for train in self.train_sets
            for test in self.test_sets
        ]

    def save(self, sweep_dir: Path) -> Path:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        path = sweep_dir / PLAN_FILE
        path.write_text(OmegaConf.to_yaml(self.to_config()))
        return path

    @classmethod
    def load(cls, sweep_dir: Path) -> BenchmarkPlan | None:
        """The plan saved in a sweep folder; None when the folder has none."""
        path = Path(sweep_dir) / PLAN_FILE
        return cls.from_config(OmegaConf.load(path)) if path.is_file() else None


def multirun_command(
    plan: BenchmarkPlan,
    sweep_dir: Path,
    forwarded: Sequence[str] = (),
    detectors: Sequence[str] | None = None,
    train_sets: Sequence[str] | None = None,
    subdir_prefix: str = "",
) -> list[str]:
    """`dfd train -m` over the plan's detectors and train sets (or the ones given, when only
    some are left to train), testing each on the test sets; `subdir_prefix` names the job
    folders of a launch after the first; `forwarded` (any train override: a launcher, a
    precision, a smaller recipe) comes last."""
    return [
        sys.executable,
        "-m",
        "dfd.cli.main",
        "train",
        "-m",
        f"model={','.join(detectors or plan.detectors)}",
        f"data={','.join(train_sets or plan.train_sets)}",
        f"test_datasets=[{','.join(plan.test_sets)}]",
        f"experiment_name=benchmark_{plan.name}",
        *plan.recipe,
        f"hydra.sweep.dir={sweep_dir}",
        *([f"hydra.sweep.subdir={subdir_prefix}${{hydra.job.num}}"] if subdir_prefix else []),
        *forwarded,
    ]
