"""`dfd benchmark benchmark=demo`: a real multirun of two detectors on a demo-derived training
set, each tested on it and on a demo-derived cross-dataset stand-in, then the leaderboard; and
`--collect` on a sweep with a cell missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from dfd.runs import RunDir
from helpers.runs import run_dfd, run_entry_point

DETECTORS = ("resnet18", "meso4")
TEST_SETS = ("demo_sbi", "demo_swap")
TINY_RECIPE = (  # forwarded to every training job
    "trainer.max_epochs=1",
    "datamodule.image_size=64",
    "datamodule.batch_size=4",
    "datamodule.num_workers=0",
)


def run_benchmark(root: Path, sweep: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_dfd(
        "benchmark",
        "benchmark=demo",
        f"benchmark.detectors=[{','.join(DETECTORS)}]",
        f"paths.data_dir={root / 'data'}",
        f"paths.log_dir={root / 'logs'}",
        f"sweep_dir={sweep}",
        *TINY_RECIPE,
        *extra,
        env={"WANDB_MODE": "offline"},
        timeout=1200,
    )


@pytest.fixture(scope="module")
def sweep(tiny_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("benchmark")
    for name in TEST_SETS:
        run_entry_point(
            "dfd.prepare",
            f"data={name}",
            f"data.raw_dir={tiny_raw}",
            f"paths.data_dir={root / 'data'}",
            "prepare.num_frames=4",
            "prepare.face_size=64",
        )
    result = run_benchmark(root, root / "sweep", "--wandb")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "leaderboard: 4 of 4 cells done" in result.stdout
    return root / "sweep"


@pytest.mark.slow
def test_every_cell_of_the_plan_is_on_the_leaderboard(sweep: Path) -> None:
    cells = pd.read_csv(sweep / "leaderboard.csv")
    assert sorted(zip(cells.detector, cells.test_set)) == sorted(
        (d, t) for d in DETECTORS for t in TEST_SETS
    )
    assert set(cells.status) == {"done"} and set(cells.train_set) == {"demo_sbi"}
    assert cells["video_auroc"].between(0, 1).all() and cells["frame_auroc"].notna().all()
    assert (cells.video_auroc_ci_lo <= cells.video_auroc).all()
    markdown = (sweep / "leaderboard.md").read_text()
    assert "| resnet18 (demo_sbi) |" in markdown and "demo_swap" in markdown
    page = (sweep / "leaderboard.html").read_text()
    for test in TEST_SETS:
        assert (sweep / f"roc_{test}.png").stat().st_size > 10_000
        assert f'src="roc_{test}.png"' in page
    assert list(sweep.glob("wandb/offline-run-*/run-*.wandb")), "the W&B table's run"


@pytest.mark.slow
def test_a_partial_sweep_shows_what_is_missing(sweep: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(sweep, tmp_path / "sweep", symlinks=True)
    runs = sorted(p.parent for p in copy.glob("*/.hydra"))
    shutil.rmtree(runs[0] / "eval" / "demo_swap")  # a cell that failed
    shutil.rmtree(runs[1])  # a detector not started yet
    result = run_dfd("benchmark", "--collect", str(copy))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "leaderboard: 1 of 4 cells done" in result.stdout
    status = pd.read_csv(copy / "leaderboard.csv").set_index(["detector", "test_set"]).status
    assert sorted(status.value_counts().items()) == [
        ("done", 1),
        ("no result (failed or still running)", 1),
        ("not run", 2),
    ]


@pytest.mark.slow
def test_a_sweep_cut_short_continues_with_only_what_is_missing(sweep: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(sweep, tmp_path / "sweep", symlinks=True)
    jobs = {RunDir(p).choices()["model"]: p for p in copy.iterdir() if RunDir(p).is_run()}
    shutil.rmtree(jobs["meso4"])  # the job a time limit cut off
    kept = RunDir(jobs["resnet18"]).last_checkpoint.stat().st_mtime
    result = run_benchmark(sweep.parent, copy)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "cells already done are kept: training meso4 on demo_sbi" in result.stdout
    assert "leaderboard: 4 of 4 cells done" in result.stdout
    assert RunDir(copy / "continued1-0").choices()["model"] == "meso4"
    assert RunDir(jobs["resnet18"]).last_checkpoint.stat().st_mtime == kept
    cells = pd.read_csv(copy / "leaderboard.csv")
    assert set(cells.status) == {"done"} and len(cells) == 4


def test_a_dry_run_prints_the_multirun(tmp_path: Path) -> None:
    result = run_dfd(
        "benchmark",
        "--dry-run",
        "benchmark=demo",
        "hydra/launcher=submitit_local",
        f"sweep_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "train -m model=mobilenet_v2,xception,f3net,srm data=demo_sbi" in line
    assert "'test_datasets=[demo_sbi,demo_swap]'" in line
    assert line.endswith(f"hydra.sweep.dir={tmp_path} hydra/launcher=submitit_local")


def test_a_folder_that_is_no_sweep_is_never_written_into(tmp_path: Path) -> None:
    (tmp_path / "0").mkdir()  # say, the job folder of a `dfd train -m`
    result = run_dfd("benchmark", "--dry-run", "benchmark=demo", f"sweep_dir={tmp_path}")
    assert result.returncode == 2
    assert "is not empty and holds no benchmark plan (benchmark.yaml)" in result.stderr
    assert "Traceback" not in result.stderr
