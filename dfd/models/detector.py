"""Frame detectors: an image backbone on every frame, a temporal head over the frames."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dfd.models.backbones import FrameEncoder
from dfd.models.base import Detector
from dfd.models.feature_maps import last_feature_map
from dfd.models.inputs import InputSpec
from dfd.models.temporal import MeanPool, TemporalHead


class FrameDetector(Detector):
    """Encode every frame with an image backbone, pool over time, classify real/fake.

    `temporal` builds the head from the backbone's feature size (a head class or a partial
    config, `_partial_: true`); the classifier is sized by the head's `out_features`.
    Every frame is also scored alone (`frame_scores`).
    """

    frame_scores = True

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
        return InputSpec(kind="frames", max_clip_len=self.temporal.max_clip_len)

    def describe(self) -> str:
        return f"FrameDetector with {type(self.temporal).__name__}"

    def weights_source(self) -> str:
        """Where the frame encoder's pretrained weights come from (e.g. "timm:resnet18")."""
        return self.backbone.source

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The frame encoder, and the temporal head with the classifier."""
        return {"backbone": self.backbone, "head": nn.ModuleList([self.temporal, self.classifier])}

    def gradcam_target_layers(self) -> list[str]:
        """The backbone's last convolutional feature map (found by a dry run)."""
        return ["backbone." + last_feature_map(self.backbone)]

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
