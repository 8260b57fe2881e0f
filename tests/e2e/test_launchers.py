"""Cluster launchers and DDP in sweeps: submitit_local runs a sweep, SLURM settings compose,
and under DDP an Optuna trial's parameters are the same on every rank."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from helpers.runs import CONF, only, run_entry_point, tiny_overrides


@pytest.mark.parametrize(("nodes", "gpus"), [(1, 1), (2, 4), (4, 8)])
def test_slurm_launcher_asks_for_the_trainer_devices_and_nodes(nodes: int, gpus: int) -> None:
    """N nodes x G GPUs: N nodes, G tasks and G GPUs a node, one DDP process a task."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            return_hydra_config=True,
            overrides=[
                "hydra/launcher=slurm",
                "trainer=ddp",
                f"trainer.devices={gpus}",
                f"trainer.num_nodes={nodes}",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.account=proj",
            ],
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (nodes, gpus, gpus)
    assert (cfg.trainer.num_nodes, cfg.trainer.devices, cfg.trainer.strategy) == (
        nodes,
        gpus,
        "ddp",
    )
    assert (launcher.partition, launcher.account) == ("gpu", "proj")


@pytest.mark.slow
def test_a_two_job_sweep_through_submitit_local(tiny_prepared: Path, tmp_path: Path) -> None:
    run_entry_point(
        "train.py",
        "-m",
        "hydra/launcher=submitit_local",
        "seed=1,2",
        "hydra.launcher.timeout_min=20",
        *tiny_overrides(tiny_prepared, tmp_path),
        "trainer.max_epochs=1",
    )
    sweep = only(list((tmp_path / "train" / "multiruns").iterdir()))
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()) == ["0", "1"]
    assert list((sweep / ".submitit").iterdir()), "the jobs did not go through submitit"
    for job, seed in (("0", 1), ("1", 2)):
        assert (sweep / job / "eval" / "demo" / "metrics.json").exists()
        assert OmegaConf.load(sweep / job / ".hydra" / "config.yaml").seed == seed


@pytest.mark.slow
def test_an_optuna_trial_under_ddp_has_one_set_of_parameters(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    """Rank 1 trains from rank 0's resolved config, and the ranks check they agree."""
    storage = f"sqlite:///{tmp_path}/study.db"
    result = run_entry_point(
        "train.py",
        "hparams_search=optuna",
        "trainer=ddp_sim",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=ddp",
        "hydra.sweeper.n_trials=2",
        "test=false",
        "logger=csv",
        *tiny_overrides(tiny_prepared, tmp_path),
        "trainer.max_epochs=1",
    )
    output = result.stdout + result.stderr
    assert output.count("MEMBER: 2/2") == 2
    assert output.count("config identical on all 2 ranks") == 2
    trials = optuna.load_study(study_name="ddp", storage=storage).get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert trials[0].params != trials[1].params
    for trial in trials:
        shared = OmegaConf.load(
            Path(trial.user_attrs["job_dir"]) / ".hydra" / "resolved_config.yaml"
        )
        assert shared.optuna.trial_number == trial.number
        for name, value in trial.params.items():
            assert OmegaConf.select(shared, name) == pytest.approx(value)


def launcher_of(config: str, *overrides: str) -> dict:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config, return_hydra_config=True, overrides=list(overrides))
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def test_preparation_shards_compose_with_dfds_slurm_launcher() -> None:
    """prepare.yaml documents `hydra/launcher=slurm`; without a trainer it asks for one GPU."""
    assert "hydra/launcher=slurm " in (CONF / "prepare.yaml").read_text()
    launcher = launcher_of("prepare", "hydra/launcher=slurm", "hydra.launcher.partition=gpu")
    assert (launcher["nodes"], launcher["tasks_per_node"], launcher["gpus_per_node"]) == (1, 1, 1)
    assert launcher["partition"] == "gpu" and launcher["signal_delay_s"] == 120


def test_slurm_is_the_plugins_launcher_with_dfds_cluster_defaults() -> None:
    """`hydra/launcher=slurm` is `submitit_slurm` plus dfd's settings, nothing else changed."""
    ours = launcher_of("train", "hydra/launcher=slurm", "trainer.devices=2", "hydra.sweep.dir=s")
    plugin = launcher_of("train", "hydra/launcher=submitit_slurm", "hydra.sweep.dir=s")
    assert ours["_target_"] == plugin["_target_"] and set(ours) == set(plugin)
    changed = {key for key in ours if ours[key] != plugin[key]}
    assert changed == {
        "timeout_min",
        "tasks_per_node",
        "gpus_per_node",
        "cpus_per_task",
        "mem_gb",
        "max_num_timeout",
        "array_parallelism",
    }
    assert (
        "hydra/launcher=slurm` is the documented way"
        in (CONF / "hydra" / "launcher" / "slurm.yaml").read_text()
    )
