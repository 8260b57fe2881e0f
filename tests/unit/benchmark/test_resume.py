"""Continuing a benchmark: what is left to train, and when a folder cannot be continued."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfd.benchmark.leaderboard import DONE, NO_RESULT, Leaderboard
from dfd.benchmark.plan import BenchmarkPlan, multirun_command
from dfd.benchmark.resume import Launch, check_continuable, next_subdir_prefix, pending_launches
from dfd.errors import UsageError

PLAN = BenchmarkPlan(
    name="ffpp",
    detectors=("xception", "f3net", "srm"),
    train_sets=("ff_c23", "celebdf"),
    test_sets=("ff_c23", "celebdf"),
    recipe=("trainer.max_epochs=4",),
)


def board(*done: tuple[str, str, str], failed: tuple[str, str, str] | None = None) -> Leaderboard:
    rows = [dict(zip(("detector", "train_set", "test_set"), cell), status=DONE) for cell in done]
    if failed:
        rows.append(dict(zip(("detector", "train_set", "test_set"), failed), status=NO_RESULT))
    return Leaderboard(pd.DataFrame(rows, columns=["detector", "train_set", "test_set", "status"]))


def every_test(detector: str, train: str) -> list[tuple[str, str, str]]:
    return [(detector, train, test) for test in PLAN.test_sets]


def test_an_empty_sweep_trains_the_whole_plan_in_one_launch() -> None:
    assert pending_launches(PLAN, board()) == [Launch(PLAN.detectors, PLAN.train_sets)]


def test_a_job_with_every_result_is_kept_and_one_missing_a_test_set_is_trained_again() -> None:
    done = [
        *every_test("xception", "ff_c23"),
        *every_test("xception", "celebdf"),
        *every_test("f3net", "ff_c23"),
        ("srm", "ff_c23", "ff_c23"),
    ]
    launches = pending_launches(PLAN, board(*done, failed=("srm", "ff_c23", "celebdf")))
    assert launches == [
        Launch(("srm",), ("ff_c23",)),
        Launch(("f3net", "srm"), ("celebdf",)),
    ]


def test_train_sets_missing_the_same_detectors_share_a_launch() -> None:
    done = [*every_test("xception", "ff_c23"), *every_test("xception", "celebdf")]
    assert pending_launches(PLAN, board(*done)) == [Launch(("f3net", "srm"), PLAN.train_sets)]


def test_a_finished_sweep_has_nothing_to_launch() -> None:
    done = [cell for d in PLAN.detectors for t in PLAN.train_sets for cell in every_test(d, t)]
    assert pending_launches(PLAN, board(*done)) == []


def test_a_sweep_of_another_recipe_is_not_continued(tmp_path: Path) -> None:
    check_continuable(PLAN, PLAN, tmp_path)  # same plan: fine
    grown = BenchmarkPlan(**{**PLAN.__dict__, "detectors": (*PLAN.detectors, "mobilenet_v2")})
    check_continuable(PLAN, grown, tmp_path)  # a detector added: fine
    changed = BenchmarkPlan(**{**PLAN.__dict__, "recipe": ("trainer.max_epochs=8",)})
    with pytest.raises(UsageError, match=r"with recipe \[trainer.max_epochs=4\]; to continue"):
        check_continuable(PLAN, changed, tmp_path)


def test_later_launches_get_job_folders_of_their_own(tmp_path: Path) -> None:
    for name in ("0", "1", "benchmark.yaml"):
        (tmp_path / name).mkdir()
    assert next_subdir_prefix(tmp_path) == "continued1-"
    (tmp_path / "continued1-0").mkdir()
    assert next_subdir_prefix(tmp_path) == "continued2-"
    command = multirun_command(PLAN, tmp_path, (), ("srm",), ("ff_c23",), "continued2-")
    assert "model=srm" in command and "data=ff_c23" in command
    assert "hydra.sweep.subdir=continued2-${hydra.job.num}" in command
    assert not any("subdir" in part for part in multirun_command(PLAN, tmp_path))
