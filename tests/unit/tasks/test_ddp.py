"""Who writes a DDP run's records: the job's global rank 0 as its launcher's environment says,
and what the ranks must agree on (the processes themselves: tests/e2e/test_multinode.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dfd.config import DDP_JOB_CONFIG_ENV, LAUNCHED_RANK_VARIABLES, is_rank_above_zero
from dfd.tasks.ddp import config_digest, job_scope, share_job_config


@pytest.fixture
def clean_launch(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No launcher variables, and the job-config variable restored after the test."""
    for name in LAUNCHED_RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DDP_JOB_CONFIG_ENV, "")
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "above_zero"),
    [
        ({}, False),
        ({"RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "0"}, False),  # torchrun, rank 0
        ({"NODE_RANK": "1"}, True),  # the second node of a launch by hand
        ({"RANK": "5", "LOCAL_RANK": "1", "GROUP_RANK": "1"}, True),  # torchrun
        ({"SLURM_PROCID": "3"}, True),  # srun
        ({"LOCAL_RANK": "1"}, True),  # a process Lightning started on a node
    ],
)
def test_rank_zero_is_known_from_the_launchers_environment(
    clean_launch: pytest.MonkeyPatch, variables: dict[str, str], above_zero: bool
) -> None:
    for name, value in variables.items():
        clean_launch.setenv(name, value)
    assert is_rank_above_zero() is above_zero


def test_a_rank_above_zero_shares_its_config_outside_the_run_folder(
    clean_launch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = OmegaConf.create({"seed": 1})
    assert share_job_config(cfg, tmp_path).is_relative_to(tmp_path)
    clean_launch.setenv("NODE_RANK", "1")
    with job_scope():
        elsewhere = share_job_config(cfg, tmp_path / "other")
        assert not elsewhere.is_relative_to(tmp_path) and OmegaConf.load(elsewhere) == cfg
    assert not (tmp_path / "other").exists()
    assert not elsewhere.exists(), "the node-local copy outlived its job"


def test_the_ranks_agree_on_all_but_the_loggers_which_only_rank_zero_runs() -> None:
    cfg = OmegaConf.create({"seed": 1, "logger": {"wandb": {"id": "abc"}}})
    other_logger = OmegaConf.merge(cfg, {"logger": {"wandb": {"id": None}}})
    other_seed = OmegaConf.merge(cfg, {"seed": 2})
    assert config_digest(cfg) == config_digest(other_logger) != config_digest(other_seed)
