"""Binary detection metrics at clip and video level, mostly from torchmetrics.

Conventions: scores are fake-probabilities in [0, 1], labels are 0 (real) / 1 (fake), and a
score is predicted fake when `score >= threshold` (the same rule as an ROC curve's thresholds).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_calibration_error,
    binary_f1_score,
    binary_precision_recall_curve,
    binary_recall,
    binary_roc,
    binary_specificity,
)
from torchmetrics.utilities import dim_zero_cat

from dfd.eval.aggregate import aggregate_by_video

ECE_BINS = 10
Scores = torch.Tensor | np.ndarray


def as_tensor(values: Scores) -> torch.Tensor:
    """A flat CPU tensor from a tensor, array or sequence (arrays are copied)."""
    values = values.detach().cpu() if torch.is_tensor(values) else torch.tensor(np.asarray(values))
    return values.flatten()


def as_scores_and_labels(scores: Scores, labels: Scores) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated float64 scores and long labels from tensors or arrays."""
    scores, labels = as_tensor(scores).double(), as_tensor(labels)
    if scores.numel() == 0 or scores.shape != labels.shape:
        raise ValueError(
            f"need as many scores as labels, at least one: {scores.numel()} scores, "
            f"{labels.numel()} labels"
        )
    if not bool(((scores >= 0) & (scores <= 1)).all()):
        raise ValueError("scores must be probabilities in [0, 1]")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    return scores, labels.long()


def has_both_classes(labels: torch.Tensor) -> bool:
    """Whether labels hold at least one real and one fake."""
    return bool(labels.min() != labels.max())


def roc_points(scores: Scores, labels: Scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FPR, TPR, thresholds) at every distinct score, thresholds descending.

    The first point is (0, 0) with threshold +inf, so `score >= threshold` realises every point.
    """
    scores, labels = as_scores_and_labels(scores, labels)
    fpr, tpr, thresholds = (t.double().numpy() for t in binary_roc(scores, labels))
    thresholds[0] = np.inf
    return fpr, tpr, thresholds


def pr_points(scores: Scores, labels: Scores) -> tuple[np.ndarray, np.ndarray, float]:
    """Recall ascending from 0 (where precision is 1), its precision, and the average precision."""
    scores, labels = as_scores_and_labels(scores, labels)
    precision, recall, _ = binary_precision_recall_curve(scores, labels)
    average_precision = float(binary_average_precision(scores, labels))
    return (
        recall.double().numpy()[::-1].copy(),
        precision.double().numpy()[::-1].copy(),
        average_precision,
    )


def equal_error(fpr: np.ndarray, tpr: np.ndarray) -> tuple[float, int]:
    """EER and the index of the ROC point nearest it.

    FPR - FNR rises along the ROC curve from -1 to 1; the EER is where it crosses zero, linearly
    interpolated between the two ROC points around the crossing. The nearest point is the one with
    the smallest |FPR - FNR| (on a tie, the earlier one: the higher threshold).
    """
    gap = fpr - (1.0 - tpr)
    after = int(np.argmax(gap >= 0))  # >= 1: the first point, (0, 0), has a gap of -1
    before = after - 1
    if gap[after] == 0:
        return float(fpr[after]), after
    weight = -gap[before] / (gap[after] - gap[before])
    eer = fpr[before] + weight * (fpr[after] - fpr[before])
    nearest = before if -gap[before] <= gap[after] else after
    return float(eer), nearest


def log_loss(scores: torch.Tensor, labels: torch.Tensor, eps: float) -> float:
    """Mean negative log-likelihood, both class probabilities clipped to [eps, 1 - eps]."""
    fake = scores.clamp(eps, 1 - eps)
    real = (1 - scores).clamp(eps, 1 - eps)
    return float(-torch.where(labels == 1, fake.log(), real.log()).mean())


def balanced_accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean of the per-class recalls over the classes present in labels."""
    if not has_both_classes(labels):
        return float(binary_accuracy(predictions, labels))
    return float(binary_recall(predictions, labels) + binary_specificity(predictions, labels)) / 2


def _ranking_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    if not has_both_classes(labels):
        return dict.fromkeys(("auroc", "ap", "eer"), float("nan"))
    fpr, tpr, _ = roc_points(scores, labels)
    return {
        "auroc": float(binary_auroc(scores, labels)),
        "ap": float(binary_average_precision(scores, labels)),
        "eer": equal_error(fpr, tpr)[0],
    }


def binary_metrics(scores: Scores, labels: Scores, threshold: float = 0.5) -> dict[str, float]:
    """AUROC, AP, EER, accuracy, balanced accuracy, F1, log-loss, Brier score and ECE.

    Ranking metrics (AUROC, AP, EER) need both classes; with one class they are NaN. The EER is
    interpolated linearly on the ROC curve (see `equal_error`). Log-loss clips probabilities to
    [eps, 1 - eps] with eps the machine epsilon of the input's float dtype (float64 for integer
    input), as scikit-learn >= 1.5 does. ECE uses 10 equal-width bins on the fake-probability.
    """
    raw = as_tensor(scores)
    eps = torch.finfo(raw.dtype if raw.is_floating_point() else torch.float64).eps
    scores, labels = as_scores_and_labels(raw, labels)
    predictions = (scores >= threshold).long()
    return {
        **_ranking_metrics(scores, labels),
        "acc": float(binary_accuracy(predictions, labels)),
        "balanced_acc": balanced_accuracy(predictions, labels),
        "f1": float(binary_f1_score(predictions, labels)),
        "log_loss": log_loss(scores, labels, eps),
        "brier": float(((scores - labels) ** 2).mean()),
        "ece": float(binary_calibration_error(scores, labels, n_bins=ECE_BINS)),
    }


class DetectionScores(Metric):
    """Collects clip fake-probabilities, labels, video and face-track indices (gathered across
    DDP ranks).

    `compute()` returns clip-level metrics under `clip_*` and video-level ones (clip scores
    aggregated per face track by the named strategy of `dfd.eval.aggregate`, faces -> video by
    max) under `video_*`.
    """

    full_state_update = False

    def __init__(self, aggregation: str = "mean", threshold: float = 0.5) -> None:
        super().__init__()
        self.aggregation = aggregation
        self.threshold = threshold
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("video_idx", default=[], dist_reduce_fx="cat")
        self.add_state("face_idx", default=[], dist_reduce_fx="cat")

    def update(
        self,
        scores: torch.Tensor,
        labels: torch.Tensor,
        video_idx: torch.Tensor,
        face_idx: torch.Tensor | None = None,
    ) -> None:
        self.scores.append(scores.detach().float())
        self.labels.append(labels.detach().long())
        self.video_idx.append(video_idx.detach().long())
        self.face_idx.append((video_idx if face_idx is None else face_idx).detach().long())

    def compute(self) -> dict[str, float]:
        scores, labels, video_idx, face_idx = (
            dim_zero_cat(state)
            for state in (self.scores, self.labels, self.video_idx, self.face_idx)
        )
        _, video_scores, video_labels = aggregate_by_video(
            scores, labels, video_idx, self.aggregation, face_idx=face_idx
        )
        clip = binary_metrics(scores, labels, self.threshold)
        video = binary_metrics(video_scores, video_labels, self.threshold)
        return {
            **{f"clip_{k}": v for k, v in clip.items()},
            **{f"video_{k}": v for k, v in video.items()},
        }
