"""binary_metrics against scikit-learn, and the EER on cases known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from dfd.eval.metrics import ECE_BINS, DetectionScores, binary_metrics

KINDS = ("continuous", "ties", "imbalanced", "extremes")


def random_case(kind: str, seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Fake-probabilities that lean towards the label, of the named kind."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < (0.1 if kind == "imbalanced" else 0.5)).astype(int)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.25), 0.0, 1.0)
    if kind == "ties":  # a grid that never meets an ECE bin edge
        scores = np.floor(scores * 40).clip(0, 39) / 40 + 1 / 80
    if kind == "extremes":
        scores[rng.random(n) < 0.1] = 0.0
        scores[rng.random(n) < 0.1] = 1.0
    return scores, labels


def reference_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Where FPR = FNR on sklearn's ROC polyline, each segment interpolated linearly."""
    fpr, tpr, _ = sk.roc_curve(labels, scores)
    for f0, t0, f1, t1 in zip(fpr[:-1], tpr[:-1], fpr[1:], tpr[1:]):
        # fpr(u) = f0 + u (f1 - f0) equals fnr(u) = 1 - t0 - u (t1 - t0) for u in [0, 1]?
        slope = (f1 - f0) + (t1 - t0)
        u = (1 - t0 - f0) / slope if slope else 0.0
        if 0 <= u <= 1:
            return f0 + u * (f1 - f0)
    raise AssertionError("the ROC curve never crosses FPR = FNR")


def reference_ece(scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Bins [b_i, b_i+1) on the fake-probability (1.0 alone in a bin), weighted |rate - conf|."""
    index = np.searchsorted(np.linspace(0, 1, bins + 1), scores, side="right") - 1
    return sum(
        np.mean(index == b) * abs(labels[index == b].mean() - scores[index == b].mean())
        for b in np.unique(index)
    )


def sklearn_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    predictions = (scores >= threshold).astype(int)
    return {
        "auroc": sk.roc_auc_score(labels, scores),
        "ap": sk.average_precision_score(labels, scores),
        "eer": reference_eer(scores, labels),
        "acc": sk.accuracy_score(labels, predictions),
        "balanced_acc": sk.balanced_accuracy_score(labels, predictions),
        "f1": sk.f1_score(labels, predictions),
        "log_loss": sk.log_loss(labels, y_proba=scores),
        "brier": sk.brier_score_loss(labels, scores),
        "ece": reference_ece(scores, labels),
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_matches_sklearn(kind: str, seed: int) -> None:
    scores, labels = random_case(kind, seed)
    threshold = 0.5 if kind != "ties" else 0.5125  # a threshold equal to tied scores
    ours = binary_metrics(scores, labels, threshold)
    expected = sklearn_metrics(scores, labels, threshold)
    assert list(ours) == [
        "auroc",
        "ap",
        "eer",
        "acc",
        "balanced_acc",
        "f1",
        "log_loss",
        "brier",
        "ece",
    ]
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, abs=1e-6), name


def test_tensors_and_arrays_agree() -> None:
    scores, labels = random_case("ties", 3)
    from_arrays = binary_metrics(scores, labels)
    from_tensors = binary_metrics(torch.from_numpy(scores), torch.from_numpy(labels))
    assert from_arrays == pytest.approx(from_tensors, abs=1e-12)


def test_log_loss_clips_at_the_epsilon_of_the_input_dtype() -> None:
    labels = np.array([1, 0, 1, 0])
    for dtype in (np.float64, np.float32):
        scores = np.array([0.0, 1.0, 0.7, 0.2], dtype=dtype)
        expected = sk.log_loss(labels, y_proba=scores)
        assert binary_metrics(scores, labels)["log_loss"] == pytest.approx(expected, rel=1e-6)
    eps32 = float(np.finfo(np.float32).eps)
    saturated = binary_metrics(torch.tensor([0.0, 1.0]), torch.tensor([1, 0]))["log_loss"]
    assert saturated == pytest.approx(-math.log(eps32))


def test_ranking_metrics_are_nan_with_one_class() -> None:
    metrics = binary_metrics(np.array([0.9, 0.2, 0.6]), np.array([1, 1, 1]))
    assert all(math.isnan(metrics[name]) for name in ("auroc", "ap", "eer"))
    assert metrics["acc"] == pytest.approx(2 / 3)
    assert metrics["balanced_acc"] == pytest.approx(2 / 3)  # the recall of the one class present
    assert metrics["brier"] == pytest.approx((0.01 + 0.64 + 0.16) / 3)


@pytest.mark.parametrize(
    ("scores", "labels", "eer"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 0.0),  # perfect separation
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 1.0),  # fully inverted
        ([0.1, 0.2, 0.6, 0.4, 0.7, 0.8], [0, 0, 0, 1, 1, 1], 1 / 3),  # one real above one fake
        # a tie across classes gives a diagonal ROC segment (0, 1/2) -> (1/2, 1); it meets FPR = FNR
        # halfway, at FPR = FNR = 1/4
        ([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.25),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),  # all tied: the chance diagonal
    ],
)
def test_eer_on_cases_known_by_hand(scores: list[float], labels: list[int], eer: float) -> None:
    assert binary_metrics(np.array(scores), np.array(labels))["eer"] == pytest.approx(eer)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        binary_metrics(np.array([0.2, 1.5]), np.array([0, 1]))
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        binary_metrics(np.array([0.2, 0.5]), np.array([0, 2]))
    with pytest.raises(ValueError, match="as many scores as labels"):
        binary_metrics(np.array([0.2, 0.5]), np.array([0]))


def test_detection_scores_uses_any_strategy() -> None:
    collector = DetectionScores(aggregation="median")
    collector.update(
        torch.tensor([0.1, 0.2, 0.9, 0.7, 0.8, 0.1]),
        torch.tensor([0, 0, 0, 1, 1, 1]),
        torch.tensor([0, 0, 0, 1, 1, 1]),
    )
    metrics = collector.compute()
    # medians: real video 0.2, fake video 0.7; clip-level the real 0.9 outranks two fake clips
    assert metrics["video_auroc"] == pytest.approx(1.0)
    assert metrics["clip_auroc"] == pytest.approx(
        sk.roc_auc_score([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.9, 0.7, 0.8, 0.1])
    )
    assert set(metrics) == {
        f"{level}_{name}"
        for level in ("clip", "video")
        for name in ("auroc", "ap", "eer", "acc", "balanced_acc", "f1", "log_loss", "brier", "ece")
    }
