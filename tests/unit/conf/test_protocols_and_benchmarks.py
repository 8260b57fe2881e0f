"""Every protocol and benchmark config composes and names only configs that exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dfd.benchmark.plan import BenchmarkPlan
from dfd.datasets.protocols import Protocol
from helpers.runs import CONF, compose_train, options


@pytest.mark.parametrize("option", options("protocol"))
def test_protocol_composes_and_its_test_datasets_exist(tmp_path: Path, option: str) -> None:
    cfg = compose_train(tmp_path, f"protocol={option}")
    assert Protocol.from_config(OmegaConf.to_container(cfg.protocol)).name == option
    assert set(cfg.test_datasets) <= set(options("data"))


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "benchmark").glob("*.yaml")))
def test_benchmark_plans_name_existing_detectors_and_datasets(name: str) -> None:
    plan = BenchmarkPlan.from_config(OmegaConf.load(CONF / "benchmark" / f"{name}.yaml"))
    assert plan.name == name
    assert set(plan.detectors) <= set(options("model"))
    assert set(plan.train_sets) | set(plan.test_sets) <= set(options("data"))
    assert set(plan.published_detectors) <= set(plan.detectors)


def test_an_empty_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="benchmark.detectors is empty"):
        BenchmarkPlan.from_config(
            {"name": "x", "detectors": [], "train_sets": ["a"], "test_sets": ["a"]}
        )
