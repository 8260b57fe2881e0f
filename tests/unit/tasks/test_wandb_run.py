"""W&B runs: named from the experiment and its overrides, one id per run folder, debug runs
composed into their own folder."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from dfd.runs import RunDir
from dfd.sweeps.tags import run_name
from dfd.tasks.wandb_run import wandb_run_id
from helpers.runs import CONF


def test_run_name_is_the_experiment_and_what_was_overridden() -> None:
    overrides = [
        "experiment=sbi",
        "seed=2",
        "model=resnet18",
        "paths.log_dir=/tmp/x",
        "data.prepared_dir=/data",
        "logger=wandb",
        "ckpt_path=last",
        "hydra.run.dir=/y",
        "++optuna.trial_number=3",
    ]
    assert run_name("sbi", overrides) == "sbi seed=2 model=resnet18"
    assert run_name("demo", []) == "demo"
    assert len(run_name("demo", ["model.backbone.name=" + "x" * 300])) == 128


def test_the_wandb_id_is_made_once_and_kept_in_the_run_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    first = wandb_run_id(run)
    assert run.read_wandb_id() == first
    assert wandb_run_id(run) == first  # a resumed run continues the same W&B run


def test_debug_runs_land_in_their_own_folder(tmp_path: Path) -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        for debug in ("fast", "fast_dev_run", "overfit", "profile"):
            cfg = compose(
                "train",
                overrides=[f"debug={debug}", f"paths.log_dir={tmp_path}"],
                return_hydra_config=True,
            )
            assert cfg.paths.task_dir == f"{tmp_path}/train/debug"
            assert cfg.hydra.run.dir.startswith(f"{tmp_path}/train/debug/runs/")
        cfg = compose("train", overrides=[f"paths.log_dir={tmp_path}"], return_hydra_config=True)
        assert cfg.hydra.run.dir.startswith(f"{tmp_path}/train/runs/")
