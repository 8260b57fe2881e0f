"""The one detector interface: a clip (B, T, C, H, W) in, one fake logit per clip (B,) out."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dfd.models.backbones import FrameEncoder
from dfd.models.inputs import InputSpec
from dfd.models.temporal import MeanPool, TemporalHead


class FrameDetector(nn.Module):
    """Encode every frame with an image backbone, pool over time, classify real/fake.

    `temporal` builds the head from the backbone's feature size (a head class or a partial
    config, `_partial_: true`); the classifier is sized by the head's `out_features`.
    """

    def __init__(
        self,
        backbone: FrameEncoder,
        temporal: Callable[[int], TemporalHead] = MeanPool,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.temporal = temporal(backbone.num_features)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.temporal.out_features, 1)

    @property
    def input_spec(self) -> InputSpec:
        """The clips this detector accepts (any, up to the head's `max_clip_len`)."""
        return InputSpec(max_clip_len=self.temporal.max_clip_len)

    def check_input(self, clip_len: int, image_size: int) -> None:
        """Raise ValueError if clips of `clip_len` frames of `image_size` px do not fit."""
        name = f"FrameDetector with {type(self.temporal).__name__}"
        self.input_spec.check(name, clip_len, image_size)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clip)[0]

    def forward_with_frames(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T): each frame also scored alone, as a
        one-frame clip through the same head, from the same backbone pass."""
        batch, time = clip.shape[:2]
        features = self.backbone(clip.flatten(0, 1)).reshape(batch, time, -1)
        clip_logits = self.classifier(self.dropout(self.temporal(features))).squeeze(-1)
        if time == 1:
            return clip_logits, clip_logits[:, None]
        single = self.classifier(self.dropout(self.temporal(features.reshape(batch * time, 1, -1))))
        return clip_logits, single.reshape(batch, time)
