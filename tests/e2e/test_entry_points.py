"""train.py, evaluate.py and a Hydra multirun, run as a user runs them (slow: real training)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.runs import evaluate_overrides, only, run_entry_point, tiny_overrides

pytestmark = pytest.mark.slow


def test_train_then_evaluate(tiny_prepared: Path, tmp_path: Path) -> None:
    result = run_entry_point("train.py", *tiny_overrides(tiny_prepared, tmp_path))
    run = only(list((tmp_path / "train" / "runs").iterdir()))
    assert "video-level AUC" in result.stdout
    results = run / "eval" / "demo"
    for produced in (
        ".hydra/config.yaml",
        "run_info.json",
        "history.csv",
        "checkpoints/last.ckpt",
        "eval/summary.csv",
        "eval/summary.md",
    ):
        assert (run / produced).exists(), produced
    for produced in (
        "metrics.json",
        "videos.csv",
        "clips.csv",
        "frames.csv",
        "report.html",
        "figures/roc.png",
        "figures/training_curves.png",
    ):
        assert (results / produced).exists(), produced
    assert json.loads((run / "run_info.json").read_text())["seed"] == 42
    metrics = json.loads((results / "metrics.json").read_text())
    best = Path(metrics["checkpoint"])
    assert best.parent == run / "checkpoints" and best.name.startswith("epoch"), (
        "the test must use the checkpoint chosen on validation"
    )
    assert metrics["threshold"]["chosen_on"] == "val", "the threshold must come from validation"
    trained = pd.read_csv(results / "videos.csv")
    manifest = pd.read_csv(tiny_prepared, keep_default_na=False)
    test_videos = manifest[(manifest["split"] == "test") & (manifest["status"] == "ok")]
    assert sorted(trained["video_id"]) == sorted(test_videos["video_id"])
    assert trained["score"].between(0, 1).all()
    assert (run / "csv").is_dir()

    run_entry_point(
        "evaluate.py",
        *evaluate_overrides(run, tiny_prepared, tmp_path),
        "evaluation.robustness.enabled=false",
    )
    evaluation = only(list((tmp_path / "eval" / "runs").iterdir())) / "eval" / "demo"
    evaluated = pd.read_csv(evaluation / "videos.csv")
    pd.testing.assert_frame_equal(evaluated, trained, atol=1e-5)
    eval_metrics = json.loads((evaluation / "metrics.json").read_text())
    assert eval_metrics["video"]["auroc"] == pytest.approx(metrics["video"]["auroc"], abs=1e-6)
    assert eval_metrics["threshold"] == pytest.approx(metrics["threshold"])
    assert eval_metrics["checkpoint"] == str(best), "a run folder means its best checkpoint"


def test_ddp_with_two_cpu_processes_and_every_logger(tiny_prepared: Path, tmp_path: Path) -> None:
    result = run_entry_point(
        "train.py",
        *tiny_overrides(tiny_prepared, tmp_path),
        "trainer=ddp_sim",
        "trainer.max_epochs=1",
        "logger=many",
    )
    run = only(list((tmp_path / "train" / "runs").iterdir()))
    assert "world_size: 2" in result.stdout + result.stderr or "MEMBER: 2/2" in result.stderr
    scores = pd.read_csv(run / "eval" / "demo" / "videos.csv")
    assert scores["video_id"].is_unique and len(scores) > 0
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert list((run / "csv").rglob("metrics.csv"))
    assert len(list((run / "wandb").glob("offline-run-*"))) == 1, "one W&B run per DDP job"


def test_multirun_with_wandb_gives_separate_jobs_and_runs(
    tiny_prepared: Path, tmp_path: Path
) -> None:
    run_entry_point(
        "train.py",
        "-m",
        "seed=1,2",
        "logger=wandb",
        "trainer.max_epochs=1",
        *[o for o in tiny_overrides(tiny_prepared, tmp_path) if "max_epochs" not in o],
    )
    sweep = only(list((tmp_path / "train" / "multiruns").iterdir()))
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [job.name for job in jobs] == ["0", "1"]
    run_ids = set()
    for job in jobs:
        assert (job / "eval" / "demo" / "metrics.json").exists()
        offline_run = only(list((job / "wandb").glob("offline-run-*")))
        run_file = only(list(offline_run.glob("*.wandb")))
        assert b"optimized_metric" in run_file.read_bytes(), "the resolved config was not logged"
        assert f"sweep:{sweep.name}".encode() in run_file.read_bytes()
        assert f"seed={int(job.name) + 1}".encode() in run_file.read_bytes(), "overrides as tags"
        assert list(offline_run.glob("files/media/images/test/figures/roc*.png")), (
            "no report figures in W&B"
        )
        assert b"test/video_auroc_ci_low" in run_file.read_bytes(), "no metric intervals in W&B"
        run_ids.add(offline_run.name.rsplit("-", 1)[-1])
    assert len(run_ids) == 2, "multirun jobs were merged into one W&B run"


def test_ddp_inside_a_multirun_runs_each_job_once(tiny_prepared: Path, tmp_path: Path) -> None:
    """Rank 1 joins rank 0's job: no second sweep, no second folder, one W&B run per job."""
    result = run_entry_point(
        "train.py",
        "-m",
        "seed=1,2",
        "trainer=ddp_sim",
        "logger=wandb",
        "trainer.max_epochs=1",
        *[o for o in tiny_overrides(tiny_prepared, tmp_path) if "max_epochs" not in o],
    )
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["multiruns"]
    sweep = only(list((tmp_path / "train" / "multiruns").iterdir()))
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    output = result.stdout + result.stderr
    assert output.count("MEMBER: 2/2") == 2, "each job starts exactly one rank 1"
    assert output.count("config identical on all 2 ranks") == 2
    for job in ("0", "1"):
        checkpoints = sorted(p.name for p in (sweep / job / "checkpoints").iterdir())
        assert len(checkpoints) == 2 and "last.ckpt" in checkpoints, checkpoints
        assert len(list((sweep / job / "wandb").glob("offline-run-*"))) == 1
        assert (sweep / job / "eval" / "demo" / "metrics.json").exists()


def test_the_closing_line_is_the_last_word_with_wandb(tiny_prepared: Path, tmp_path: Path) -> None:
    """W&B's end-of-run summary is off; its offline run says how to sync it, before dfd's line."""
    result = run_entry_point(
        "train.py", *tiny_overrides(tiny_prepared, tmp_path), "trainer.max_epochs=1", "logger=wandb"
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[-1].startswith("dfd: ") and "video-level AUC" in lines[-1], lines[-3:]
    assert lines[-2].startswith("W&B run saved offline; to upload it: wandb sync "), lines[-3:]
    assert "Run summary" not in result.stdout + result.stderr
