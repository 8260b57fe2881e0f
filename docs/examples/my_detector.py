"""The detector of docs/add-a-detector.md, run by the tests: a small CNN that scores every frame
of a clip and averages the frames' logits."""

from __future__ import annotations

import torch
from torch import nn

from dfd.models import Detector, InputSpec


class MyDetector(Detector):
    """Two strided convolution blocks and a linear layer on every frame; a clip's logit is the
    mean of its frames' logits."""

    paper = ""  # "Authors, Title, Venue Year" of the paper whose mechanism it implements
    frame_scores = True  # it also scores every frame alone (forward_with_frames)

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 1))

    @property
    def input_spec(self) -> InputSpec:
        """RGB frames of any clip length, from 8 px."""
        return InputSpec(kind="frames", min_image_size=8)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T) of normalized clips (B, T, 3, H, W)."""
        batch, time = clips.shape[:2]
        frames = self.head(self.features(clips.flatten(0, 1))).reshape(batch, time)
        return frames.mean(1), frames

    def parameter_groups(self) -> dict[str, nn.Module]:
        """What staged unfreezing and linear probing hold: "backbone", and the rest."""
        return {"backbone": self.features, "head": self.head}

    def gradcam_target_layers(self) -> list[str]:
        return ["features"]
