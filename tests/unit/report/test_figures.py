"""Evaluation dashboard figures drawn from synthetic score tables over real JPEG face crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn import metrics as skm

from dfd.eval.metrics import pr_points, roc_points
from dfd.report import figures
from helpers import evals

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> evals.EvalCase:
    return evals.make_case(tmp_path_factory.mktemp("crops"), num_videos=12)


def assert_sensible_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    assert 400 <= width <= 2400 and 250 <= height <= 1800, (path.name, image.size)
    assert pixels.std() > 5, f"{path.name} looks blank"


def test_dashboard_writes_every_figure(case: evals.EvalCase, tmp_path: Path) -> None:
    written = figures.write_dashboard(
        tmp_path / "dash", case.videos, case.clips, case.frames, case.metrics, case.history
    )
    assert list(written) == list(figures.FIGURE_FILES)
    for name, path in written.items():
        assert path == tmp_path / "dash" / figures.FIGURE_FILES[name]
        assert_sensible_png(path)


def test_training_curves_skipped_without_history(case: evals.EvalCase, tmp_path: Path) -> None:
    for history in (None, pd.DataFrame(), pd.DataFrame({"epoch": [0, 1], "lr-AdamW": [1, 2]})):
        assert figures.plot_training_curves(tmp_path / "curves.png", history) is None
    assert not (tmp_path / "curves.png").exists()


def test_training_curves_use_epoch_values_of_lightning_history(case: evals.EvalCase) -> None:
    curves = figures._epoch_curves(case.history)
    assert set(curves) == {"train/loss_epoch", "val/loss", "val/video_auroc", "val/clip_auroc"}
    assert list(curves["val/loss"].index) == list(range(8))


def test_error_grids_show_the_worst_errors(case: evals.EvalCase, tmp_path: Path) -> None:
    fp = figures.plot_error_grid(tmp_path / "fp.png", case.videos, case.clips, case.metrics, "fp")
    fn = figures.plot_error_grid(tmp_path / "fn.png", case.videos, case.clips, case.metrics, "fn")
    assert_sensible_png(fp)
    assert_sensible_png(fn)
    worst_fp = figures._error_rows(case.videos, "fp").iloc[0]
    assert worst_fp["video_id"] == "real_000"
    rows = case.clips[case.clips["video_id"] == "real_000"]
    top_clip = rows.loc[rows["score"].idxmax(), "frames"].split(";")
    assert figures.representative_frame(case.clips, "real_000") == Path(top_clip[2])
    low_clip = rows.loc[rows["score"].idxmin(), "frames"].split(";")
    assert figures.representative_frame(case.clips, "real_000", highest=False) == Path(low_clip[2])


def test_error_grid_without_errors_or_crops(case: evals.EvalCase, tmp_path: Path) -> None:
    perfect = case.videos.assign(prediction=case.videos["label"])
    assert_sensible_png(
        figures.plot_error_grid(tmp_path / "none.png", perfect, case.clips, case.metrics, "fn")
    )
    lost = case.clips.assign(frames="/nonexistent/a.jpg;/nonexistent/b.jpg")
    assert_sensible_png(
        figures.plot_error_grid(tmp_path / "lost.png", case.videos, lost, case.metrics, "fp")
    )
    with pytest.raises(ValueError):
        figures.plot_error_grid(tmp_path / "x.png", case.videos, case.clips, case.metrics, "tp")


def test_score_over_time_falls_back_to_clips(case: evals.EvalCase, tmp_path: Path) -> None:
    path = figures.plot_score_over_time(
        tmp_path / "t.png", case.videos, case.clips, None, case.metrics
    )
    assert_sensible_png(path)
    picked = case.videos.set_index("video_id").loc[figures.pick_timeline_videos(case.videos)]
    assert len(picked) == 6
    assert set(picked["label"]) == {0, 1}
    assert set(picked["label"] == picked["prediction"]) == {True, False}


def test_single_class_tables_still_give_figures(case: evals.EvalCase, tmp_path: Path) -> None:
    real = case.videos[case.videos["label"] == 0]
    real_clips = case.clips[case.clips["label"] == 0]
    written = figures.write_dashboard(tmp_path, real, real_clips, None, {"video": {}}, None)
    assert "training_curves" not in written
    for path in written.values():
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_curve_points_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = np.round(np.clip(labels * 0.3 + rng.normal(0.4, 0.25, 300), 0, 1), 2)  # ties
    fpr, tpr, _ = roc_points(scores, labels)
    assert np.trapezoid(tpr, fpr) == pytest.approx(skm.roc_auc_score(labels, scores))
    recall, precision, ap = pr_points(scores, labels)
    assert ap == pytest.approx(skm.average_precision_score(labels, scores))
    assert recall[0] == 0 and recall[-1] == 1 and precision[0] == 1


def test_labels_helpers() -> None:
    metrics = {"threshold": {"rule": "eer", "value": 0.43, "chosen_on": "val"}}
    assert figures.threshold_text(metrics) == "threshold 0.430 (eer, chosen on val)"
    assert figures.threshold_value({}) == 0.5
    assert figures.short_id("a" * 10) == "a" * 10
    assert len(figures.short_id("b" * 60, 24)) == 24
