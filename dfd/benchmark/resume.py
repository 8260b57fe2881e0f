"""Continuing a benchmark in the folder of an earlier one: the cells already done are kept and
only the (detector, train set) jobs still missing a result are trained, so a sweep cut short
(a cluster's time limit, a crash) or a detector added to the plan costs only what is missing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dfd.benchmark.leaderboard import DONE, Leaderboard
from dfd.benchmark.plan import BenchmarkPlan
from dfd.errors import UsageError

LATER_LAUNCH = re.compile(r"continued(\d+)-\d+")  # job folders of launches after the first


@dataclass(frozen=True)
class Launch:
    """One Hydra multirun: every detector listed on every train set listed."""

    detectors: tuple[str, ...]
    train_sets: tuple[str, ...]


def check_continuable(earlier: BenchmarkPlan, plan: BenchmarkPlan, sweep_dir: Path) -> None:
    """Cells trained with another recipe must not share a leaderboard with these."""
    if (earlier.name, earlier.recipe) != (plan.name, plan.recipe):
        raise UsageError(
            f"{sweep_dir} holds benchmark '{earlier.name}' with recipe "
            f"[{' '.join(earlier.recipe)}]; to continue it give the same benchmark and recipe, "
            "or give a new sweep_dir"
        )


def pending_launches(plan: BenchmarkPlan, board: Leaderboard) -> list[Launch]:
    """The multiruns that train what the board lacks: a (detector, train set) job is trained
    again unless every test set has its result; train sets missing the same detectors share
    one launch."""
    done = {
        (cell.detector, cell.train_set, cell.test_set)
        for cell in board.cells.itertuples()
        if cell.status == DONE
    }
    trains_by_detectors: dict[tuple[str, ...], list[str]] = {}
    for train in plan.train_sets:
        missing = tuple(
            detector
            for detector in plan.detectors
            if any((detector, train, test) not in done for test in plan.test_sets)
        )
        if missing:
            trains_by_detectors.setdefault(missing, []).append(train)
    return [Launch(detectors, tuple(trains)) for detectors, trains in trains_by_detectors.items()]


def next_subdir_prefix(sweep_dir: Path) -> str:
    """Job folders of a later launch are named `continued<k>-<job>`, so Hydra's job numbers,
    which start at 0 in every multirun, never land in an earlier job's folder."""
    launches = [
        int(match.group(1))
        for path in Path(sweep_dir).iterdir()
        if (match := LATER_LAUNCH.fullmatch(path.name))
    ]
    return f"continued{max(launches, default=0) + 1}-"
