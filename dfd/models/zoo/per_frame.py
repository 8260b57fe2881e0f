"""Image detectors on clips: each frame scored alone, the clip scored by the mean frame logit."""

from __future__ import annotations

from abc import abstractmethod

import torch

from dfd.models.base import Detector
from dfd.models.inputs import InputSpec


class PerFrameDetector(Detector):
    """An image detector (N, 3, H, W) -> (N,) applied to every frame of a clip; the clip's logit
    is the mean of its frames' logits, so a clip of one frame is scored as that image."""

    frame_scores = True

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length and size (subclasses with a fixed size say so)."""
        return InputSpec(kind="frames")

    @abstractmethod
    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        """Fake logits (N,) of normalized images (N, 3, H, W)."""

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T) from one pass over the B*T frames."""
        batch, time = clips.shape[:2]
        frames = self.score_images(clips.flatten(0, 1)).reshape(batch, time)
        return frames.mean(dim=1), frames
