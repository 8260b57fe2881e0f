"""Clip scores -> video scores."""

from __future__ import annotations

import torch

REDUCTIONS = {"mean": "mean", "max": "amax"}


def aggregate_by_video(scores: torch.Tensor, labels: torch.Tensor, video_idx: torch.Tensor,
                       how: str = "mean") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reduce clip scores per video; returns (video indices, video scores, video labels)."""
    if how not in REDUCTIONS:
        raise ValueError(f"unknown aggregation '{how}', choose from {sorted(REDUCTIONS)}")
    videos, inverse = torch.unique(video_idx, return_inverse=True)
    video_scores = torch.zeros(len(videos), dtype=scores.dtype, device=scores.device)
    video_scores = video_scores.scatter_reduce(0, inverse, scores, reduce=REDUCTIONS[how],
                                               include_self=False)
    video_labels = torch.zeros(len(videos), dtype=labels.dtype, device=labels.device)
    video_labels = video_labels.scatter_reduce(0, inverse, labels, reduce="amax",
                                               include_self=False)
    return videos, video_scores, video_labels
