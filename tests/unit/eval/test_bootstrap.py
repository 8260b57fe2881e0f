"""Tally-based AUROC/AP against scikit-learn, and the bootstrap intervals."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from dfd.eval.bootstrap import (
    ap_from_tally,
    auroc_from_tally,
    bootstrap_ci,
    bootstrap_samples,
    tally,
)


def videos(n: int, seed: int = 0, ties: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scores that lean towards the label; rounded to 2 decimals for ties."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
    return (scores.round(2) if ties else scores), labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tally_metrics_match_sklearn(seed: int) -> None:
    scores, labels = videos(500, seed)
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=(3, len(scores))).astype(float)
    weights = np.vstack([np.ones(len(scores)), counts])
    fake, real = tally(scores, labels, weights)
    for row, weight in enumerate(weights):
        assert auroc_from_tally(fake, real)[row] == pytest.approx(
            roc_auc_score(labels, scores, sample_weight=weight), abs=1e-9
        )
        assert ap_from_tally(fake, real)[row] == pytest.approx(
            average_precision_score(labels, scores, sample_weight=weight), abs=1e-9
        )


def test_interval_contains_the_point_estimate_and_is_reproducible() -> None:
    scores, labels = videos(400)
    intervals = bootstrap_ci(scores, labels, seed=3)
    assert intervals == bootstrap_ci(scores, labels, seed=3)
    assert intervals != bootstrap_ci(scores, labels, seed=4)
    for name, estimate in (
        ("auroc", roc_auc_score(labels, scores)),
        ("ap", average_precision_score(labels, scores)),
    ):
        low, high = intervals[name]
        assert low < estimate < high


def test_interval_narrows_with_more_data() -> None:
    small = bootstrap_ci(*videos(200, seed=1), resamples=500)
    large = bootstrap_ci(*videos(5000, seed=1), resamples=500)
    for name in ("auroc", "ap"):
        assert np.diff(large[name])[0] < np.diff(small[name])[0] / 2


def test_level_sets_the_width() -> None:
    scores, labels = videos(300)
    wide = bootstrap_ci(scores, labels, level=0.99, metrics=("auroc",))
    narrow = bootstrap_ci(scores, labels, level=0.5, metrics=("auroc",))
    assert wide["auroc"][0] < narrow["auroc"][0] < narrow["auroc"][1] < wide["auroc"][1]


def test_groups_of_copies_widen_the_interval() -> None:
    # 30 groups, each 40 identical copies of one video: the data hold 30 independent videos
    scores, labels = videos(30, seed=2, ties=False)
    groups = np.repeat(np.arange(30), 40)
    copies = scores[groups], labels[groups]
    by_video = bootstrap_ci(*copies, resamples=500)
    by_group = bootstrap_ci(*copies, groups=groups.astype(str), resamples=500)
    for name in ("auroc", "ap"):
        assert np.diff(by_group[name])[0] > 3 * np.diff(by_video[name])[0]


def test_one_class_resamples_are_redrawn_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    # two groups, one real and one fake: half of all resamples draw one group twice
    scores, labels = np.array([0.2, 0.3, 0.7, 0.6]), np.array([0, 0, 1, 1])
    groups = np.array(["x", "x", "y", "y"])
    result = bootstrap_samples(scores, labels, groups, resamples=200)
    assert all(len(values) == 200 for values in result.values.values())
    assert 100 < result.redrawn < 300  # about one redraw per kept resample
    assert np.all(result.values["auroc"] == 1.0)
    with caplog.at_level(logging.INFO, logger="dfd.eval.bootstrap"):
        bootstrap_ci(scores, labels, groups, resamples=50)
    assert "redrew" in caplog.text


def test_bad_requests_raise() -> None:
    scores, labels = videos(50)
    with pytest.raises(ValueError, match="no bootstrap for metrics \\['eer'\\]"):
        bootstrap_ci(scores, labels, metrics=("eer",))
    with pytest.raises(ValueError, match="both real and fake"):
        bootstrap_ci(scores, np.ones(50, dtype=int))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(scores, labels, level=95)
    with pytest.raises(ValueError, match="3 groups for 50 videos"):
        bootstrap_ci(scores, labels, groups=["a", "b", "c"])
