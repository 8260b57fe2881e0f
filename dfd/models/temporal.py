"""Temporal heads: pool per-frame features (B, T, F) into one clip feature (B, F)."""

from __future__ import annotations

import torch
from torch import nn


class MeanPool(nn.Module):
    """Average the frame features over time."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=1)
