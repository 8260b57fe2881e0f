"""evaluate.py end to end: a trained run scored on two datasets (the cross-dataset protocol),
the threshold chosen on validation, every export, figure, explanation, robustness curve and
report written, and the same numbers as the training run's own test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dfd.eval.aggregate import video_table
from dfd.eval.metrics import binary_metrics
from dfd.eval.thresholds import choose_threshold
from helpers.runs import only, run_entry_point, tiny_overrides

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tiny_prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = tmp_path_factory.mktemp("logs")
    run_entry_point("train.py", *tiny_overrides(tiny_prepared, logs), "evaluation.report=false")
    return only(list((logs / "train" / "runs").iterdir()))


def test_evaluate_on_two_datasets_with_every_output(
    trained_run: Path, tiny_prepared: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    for name in ("demo", "csv"):  # the same prepared data under two dataset configs
        shutil.copytree(tiny_prepared.parent, data / name / "prepared")
    result = run_entry_point(
        "evaluate.py",
        f"ckpt_path={trained_run}",
        f"paths.data_dir={data}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "datasets=[demo,csv]",
        "data_overrides.num_workers=0",
        "evaluation.robustness.enabled=true",
        "~evaluation.robustness.perturbations",
        "+evaluation.robustness.perturbations={jpeg:[50],h264:[30,40]}",
    )
    out = only(list((tmp_path / "logs" / "eval" / "runs").iterdir())) / "eval"
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["dataset"]) == ["demo", "csv"]
    assert summary["video_auroc"].nunique() == 1, "the same data must score the same twice"
    for name in ("demo", "csv"):
        folder = out / name
        for produced in (
            "videos.csv",
            "clips.csv",
            "frames.csv",
            "metrics.json",
            "report.html",
            "robustness.csv",
            "robustness.png",
            "figures/roc.png",
            "figures/pr.png",
            "figures/confusion.png",
            "figures/metrics.png",
            "figures/calibration.png",
            "figures/false_positives.png",
            "figures/false_negatives.png",
            "figures/score_histogram.png",
            "figures/score_over_time.png",
            "figures/training_curves.png",
        ):
            assert (folder / produced).exists(), f"{name}/{produced}"
        assert list((folder / "gradcam").glob("*.png")), "no Grad-CAM panels"
        robustness = pd.read_csv(folder / "robustness.csv")
        assert set(robustness["perturbation"]) == {"jpeg", "h264"}
        page = (folder / "report.html").read_text()
        assert "Grad-CAM" in page and "Robustness" in page and "data:image/png;base64" in page
    assert "video AUC" in result.stdout and "csv" in result.stdout


def test_threshold_comes_from_validation_and_metrics_agree(trained_run: Path) -> None:
    """The threshold is the EER point of the validation videos, applied unchanged to test."""
    results = trained_run / "eval" / "demo"
    metrics = json.loads((results / "metrics.json").read_text())
    val_videos = pd.read_csv(trained_run / "eval" / "val_videos.csv")
    expected = choose_threshold(val_videos["score"], val_videos["label"], "eer")
    assert metrics["threshold"] == pytest.approx(
        {
            "rule": "eer",
            "value": expected,
            "chosen_on": "val",
            "val_videos": len(val_videos),
            "val_video_auroc": metrics["threshold"]["val_video_auroc"],
        }
    )
    videos = pd.read_csv(results / "videos.csv")
    assert (videos["prediction"] == (videos["score"] >= expected)).all()
    clips = pd.read_csv(results / "clips.csv")
    recomputed = video_table(clips, "mean", threshold=expected)
    assert recomputed["score"].to_numpy() == pytest.approx(videos["score"].to_numpy())
    assert binary_metrics(videos["score"], videos["label"], expected) == pytest.approx(
        metrics["video"]
    )
    frames = pd.read_csv(results / "frames.csv")
    assert len(frames) == clips["num_frames"].sum()
    assert not (results / "report.html").exists(), "evaluation.report=false writes no report"


def test_multi_view_evaluation_scores_every_view(trained_run: Path, tmp_path: Path) -> None:
    """evaluation.views reaches the clips evaluate.py cuts, whatever the run trained with."""
    run_entry_point(
        "evaluate.py",
        f"ckpt_path={trained_run}",
        f"paths.log_dir={tmp_path / 'logs'}",
        "data_overrides.num_workers=0",
        "evaluation.report=false",
        "evaluation.robustness.enabled=false",
        "evaluation.views.clips=3",
        "evaluation.views.crops=3",
    )
    out = only(list((tmp_path / "logs" / "eval" / "runs").iterdir())) / "eval" / "demo"
    clips = pd.read_csv(out / "clips.csv")
    assert set(clips.groupby("video_id").size()) == {3}, "4 frames, clips of 2: 3 spread clips"
    views = json.loads((out / "metrics.json").read_text())["views"]
    assert views == {"clips": 3, "crops": 3, "reduce": "mean", "space": "prob"}
    own = pd.read_csv(trained_run / "eval" / "demo" / "clips.csv")
    assert set(own.groupby("video_id").size()) == {2}, "trained and tested on 2 clips a video"
