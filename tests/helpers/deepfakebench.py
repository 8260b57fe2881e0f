"""What a DeepfakeBench Xception-style checkpoint scores: its two-way head on pooled features."""

from __future__ import annotations

import torch
from torch import nn


def their_fake_probability(
    backbone: nn.Module, clips: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """The fake-class softmax probability DeepfakeBench's `last_linear` gives these clips'
    frames: our converted detector must score the same (its one logit's sigmoid)."""
    with torch.no_grad():
        features = backbone(clips.flatten(0, 1))  # ReLU, global average pooling
        return torch.softmax(features @ weight.T + bias, 1)[:, 1]
