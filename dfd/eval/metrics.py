"""Binary detection metrics at clip and video level, from torchmetrics."""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_calibration_error,
    binary_eer,
    binary_f1_score,
)
from torchmetrics.utilities import dim_zero_cat

from dfd.eval.aggregate import aggregate_by_video


def binary_metrics(scores: torch.Tensor, labels: torch.Tensor,
                   threshold: float = 0.5) -> dict[str, float]:
    """AUROC, AP, EER, accuracy, F1 and calibration error (ECE) of fake-probabilities.

    Ranking metrics (AUROC, AP, EER) need both classes; with one class they are NaN.
    """
    labels = labels.long()
    both = bool(labels.min() != labels.max())
    nan = float("nan")
    return {
        "auroc": float(binary_auroc(scores, labels)) if both else nan,
        "ap": float(binary_average_precision(scores, labels)) if both else nan,
        "eer": float(binary_eer(scores, labels)) if both else nan,
        "acc": float(binary_accuracy(scores, labels, threshold=threshold)),
        "f1": float(binary_f1_score(scores, labels, threshold=threshold)),
        "ece": float(binary_calibration_error(scores, labels, n_bins=10)),
    }


class DetectionScores(Metric):
    """Collects clip fake-probabilities, labels and video indices (gathered across DDP ranks).

    `compute()` returns clip-level metrics under `clip_*` and video-level ones (clip scores
    aggregated per video) under `video_*`.
    """

    full_state_update = False

    def __init__(self, aggregation: str = "mean", threshold: float = 0.5) -> None:
        super().__init__()
        self.aggregation = aggregation
        self.threshold = threshold
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("video_idx", default=[], dist_reduce_fx="cat")

    def update(self, scores: torch.Tensor, labels: torch.Tensor, video_idx: torch.Tensor) -> None:
        self.scores.append(scores.detach().float())
        self.labels.append(labels.detach().long())
        self.video_idx.append(video_idx.detach().long())

    def gathered(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(scores, labels, video_idx) of every clip seen, on all ranks."""
        return dim_zero_cat(self.scores), dim_zero_cat(self.labels), dim_zero_cat(self.video_idx)

    def compute(self) -> dict[str, float]:
        scores, labels, video_idx = self.gathered()
        _, video_scores, video_labels = aggregate_by_video(scores, labels, video_idx,
                                                           self.aggregation)
        clip = binary_metrics(scores, labels, self.threshold)
        video = binary_metrics(video_scores, video_labels, self.threshold)
        return {**{f"clip_{k}": v for k, v in clip.items()},
                **{f"video_{k}": v for k, v in video.items()}}
