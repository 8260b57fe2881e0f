"""dfd benchmark [benchmark=NAME] [benchmark.KEY=VALUE ...] [train overrides ...]
dfd benchmark --collect FOLDER

Given the `sweep_dir` of an earlier run of the same benchmark and recipe, it continues that
sweep: cells already done are kept, only the jobs still missing a result are trained.

Exit status: 0 when every cell of the plan has its result, 1 when some have none (the
leaderboard is still written and shows which), 2 on a usage error.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dfd.benchmark.leaderboard import DONE, collect_cells, with_published, write_leaderboard
from dfd.benchmark.options import parser
from dfd.benchmark.plan import PLAN_FILE, BenchmarkPlan, multirun_command
from dfd.benchmark.published import read_published
from dfd.benchmark.resume import (
    Launch,
    check_continuable,
    next_subdir_prefix,
    pending_launches,
)
from dfd.benchmark.wandb_table import log_leaderboard
from dfd.config import config_dir, default_root_dir
from dfd.errors import UsageError

OWN_KEYS = ("benchmark", "sweep_dir", "published_csv")
SHARED_KEYS = ("paths",)  # where data and logs are: the command's and every job's


def split_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the benchmark command's own overrides, the ones every training job gets)."""
    own, forwarded = [], []
    for override in overrides:
        key = override.lstrip("+~").partition("=")[0].split(".")[0].split("/")[0]
        if key in OWN_KEYS or key in SHARED_KEYS:
            own.append(override)
        if key not in OWN_KEYS:
            forwarded.append(override)
    return own, forwarded


def compose_benchmark(overrides: Sequence[str]) -> DictConfig:
    """conf/benchmark.yaml with the benchmark group and the given overrides."""
    default_root_dir()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("benchmark", overrides=list(overrides))


def leaderboard(
    root: Path, plan: BenchmarkPlan | None, out: Path, published_csv: Path, wandb: bool
) -> int:
    """Write the leaderboard of the runs under `root`; 0 when every planned cell is done."""
    plan = plan or BenchmarkPlan.load(root)
    board = collect_cells(root, plan)
    if board.cells.empty:
        print(f"dfd benchmark: no training run with results under {root}", file=sys.stderr)
        return 1
    if plan is not None:
        board = with_published(board, read_published(published_csv), plan)
    title = f"Benchmark {plan.name}" if plan else f"Benchmark of {root}"
    paths = write_leaderboard(board, out, title)
    if wandb:
        log_leaderboard(board, title, out)
    done = int((board.cells.status == DONE).sum())
    print(f"leaderboard: {done} of {len(board.cells)} cells done -> {paths['html']}")
    return 0 if done == len(board.cells) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    own, forwarded = split_overrides(args.overrides)
    cfg = compose_benchmark(own)
    published = Path(args.published or cfg.published_csv)
    if args.collect is not None:
        if not args.collect.is_dir():
            raise UsageError(f"no such folder: {args.collect}")
        return leaderboard(args.collect, None, args.out or args.collect, published, args.wandb)
    plan = BenchmarkPlan.from_config(cfg.benchmark)
    sweep_dir = Path(cfg.sweep_dir).resolve()
    earlier = BenchmarkPlan.load(sweep_dir)
    if earlier is None and sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        raise UsageError(
            f"{sweep_dir} is not empty and holds no benchmark plan ({PLAN_FILE}): give a new "
            "sweep_dir, or the folder of an earlier `dfd benchmark` to continue it"
        )
    if earlier is None:
        launches, prefix = [Launch(plan.detectors, plan.train_sets)], ""
    else:
        check_continuable(earlier, plan, sweep_dir)
        launches = pending_launches(plan, collect_cells(sweep_dir, plan))
        prefix = next_subdir_prefix(sweep_dir)
    commands = [
        multirun_command(plan, sweep_dir, forwarded, job.detectors, job.train_sets, prefix)
        for job in launches
    ]
    if args.dry_run:
        print("\n".join(shlex.join(command) for command in commands))
        return 0
    plan.save(sweep_dir)
    print(f"benchmark {plan.name}: {len(plan.cells())} cells -> {sweep_dir}", flush=True)
    if earlier is not None:
        print(f"continuing it, cells already done are kept: {_in_words(launches)}", flush=True)
    for command in commands:
        trained = subprocess.run(command, check=False)
        if trained.returncode != 0:
            print(f"the sweep ended with status {trained.returncode}; collecting what is done")
    return leaderboard(sweep_dir, plan, args.out or sweep_dir, published, args.wandb)


def _in_words(launches: Sequence[Launch]) -> str:
    """'training mobilenet_v2 on demo_sbi', or 'nothing left to train'."""
    jobs = [f"{','.join(job.detectors)} on {','.join(job.train_sets)}" for job in launches]
    return f"training {'; '.join(jobs)}" if jobs else "nothing left to train"


if __name__ == "__main__":
    sys.exit(main())
