"""Evaluation results logged to a real offline W&B run, checked in what the run wrote."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import wandb

from dfd.report.figures import plot_confusion, plot_roc, representative_frame
from dfd.report.wandb_report import log_evaluation_to_wandb, summary_values, video_table
from helpers import evals


@pytest.fixture
def case(tmp_path: Path) -> evals.EvalCase:
    return evals.make_case(tmp_path / "crops", num_videos=6)


@pytest.fixture
def offline_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep W&B's staging and cache folders inside the test's own folder."""
    for variable in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return tmp_path


def test_summary_values_flatten_metrics_and_intervals(case: evals.EvalCase) -> None:
    metrics = {**case.metrics, "clip": {**case.metrics["clip"], "auroc": float("nan")}}
    values = summary_values("test", metrics)
    assert values["test/video_auroc"] == pytest.approx(metrics["video"]["auroc"])
    assert values["test/frame_brier"] == pytest.approx(metrics["frame"]["brier"])
    low, high = metrics["ci"]["video_ap"]
    assert (values["test/video_ap_ci_low"], values["test/video_ap_ci_high"]) == (low, high)
    assert values["test/threshold"] == 0.43 and values["test/threshold_rule"] == "eer"
    assert values["test/threshold_chosen_on"] == "val" and values["test/num_videos"] == 6
    assert "test/clip_auroc" not in values


def test_video_table_has_a_face_thumbnail_per_video(case: evals.EvalCase) -> None:
    table = video_table(case.videos, case.clips)
    assert table.columns[:4] == ["video_id", "label", "score", "prediction"]
    assert table.columns[-1] == "face"
    assert [row[0] for row in table.data] == list(case.videos["video_id"])
    for row in table.data:
        assert isinstance(row[-1], wandb.Image)
        assert (
            Path(row[-1]._path).read_bytes()
            == representative_frame(case.clips, row[0]).read_bytes()
        )


def test_offline_run_holds_figures_summary_and_table(
    case: evals.EvalCase, offline_dirs: Path
) -> None:
    figures = {
        "roc": plot_roc(offline_dirs / "figs" / "roc.png", case.videos, case.clips, case.metrics),
        "confusion": plot_confusion(
            offline_dirs / "figs" / "confusion.png", case.videos, case.metrics
        ),
    }
    run = wandb.init(dir=offline_dirs, mode="offline", project="dfd-test")
    try:
        log_evaluation_to_wandb(run, "test", case.metrics, figures, case.videos, case.clips)
        assert run.summary["test/video_auroc"] == pytest.approx(case.metrics["video"]["auroc"])
        assert run.summary["test/video_auroc_ci_high"] == case.metrics["ci"]["video_auroc"][1]
        assert run.summary["test/threshold"] == 0.43
    finally:
        run.finish()
    run_dir = next((offline_dirs / "wandb").glob("offline-run-*"))
    media = run_dir / "files" / "media"
    for name, source in figures.items():
        (logged,) = (media / "images" / "test" / "figures").glob(f"{name}_*.png")
        assert logged.read_bytes() == source.read_bytes()
    (table_file,) = (media / "table" / "test").glob("videos_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][:4] == ["video_id", "label", "score", "prediction"]
    rows = {row[0]: row for row in table["data"]}
    assert set(rows) == set(case.videos["video_id"])
    for video in case.videos.itertuples():
        assert rows[video.video_id][1:4] == [
            video.label,
            pytest.approx(video.score),
            video.prediction,
        ]
    keys = [
        key.encode()
        for key in ("test/video_auroc_ci_low", "test/video_ap_ci_high", "test/clip_ece")
    ]
    transaction_log = next(run_dir.glob("run-*.wandb"))
    deadline = time.monotonic() + 30  # wandb's service may still be flushing after finish()
    while (
        not all(key in transaction_log.read_bytes() for key in keys) and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    for key in keys:
        assert key in transaction_log.read_bytes()
    staged = list((offline_dirs / "wandb_data_dir").rglob("*"))
    thumbnails = [p for p in staged if p.is_file() and p.read_bytes()[:2] == b"\xff\xd8"]
    assert len(thumbnails) == len(case.videos)  # one JPEG face crop per video, staged for sync
