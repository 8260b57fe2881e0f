"""The one detector interface: a clip (B, T, C, H, W) in, one fake logit per clip (B,) out."""

from __future__ import annotations

import torch
from torch import nn

from dfd.models.backbones import FrameEncoder
from dfd.models.temporal import MeanPool


class FrameDetector(nn.Module):
    """Encode every frame with an image backbone, pool over time, classify real/fake."""

    def __init__(self, backbone: FrameEncoder, temporal: nn.Module | None = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.temporal = temporal if temporal is not None else MeanPool()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(backbone.num_features, 1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        batch, time = clip.shape[:2]
        features = self.backbone(clip.flatten(0, 1)).reshape(batch, time, -1)
        return self.classifier(self.dropout(self.temporal(features))).squeeze(-1)
