"""SPSL: the phase spectrum of a face beside its colours, into a shallow network.

Liu et al., "Spatial-Phase Shallow Learning: Rethinking Face Forgery Detection in Frequency
Domain", CVPR 2021. Up-sampling, a step of every face forgery, leaves its mark on the phase
spectrum more than on the amplitude; and such local artefacts are seen by shallow layers, which
also generalise better than deep ones. So the grey image's phase-only reconstruction (FFT, unit
magnitude, inverse FFT) is stacked as a fourth channel beside RGB and fed to the first blocks of
a CNN.

How dfd differs from DeepfakeBench (`spsl_detector.py`): DeepfakeBench feeds the four channels
to the full Xception; dfd follows the paper and keeps only the first `depth` units of the
backbone (default 4 of legacy_xception's 15: its entry flow, conv1, conv2, block1..block3), then
pools and classifies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.zoo.per_frame import PerFrameDetector
from dfd.models.zoo.units import BackboneUnits

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 grey


def grey(images: torch.Tensor) -> torch.Tensor:
    """The luminance (N, H, W) of images (N, 3, H, W)."""
    weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights)


def phase_image(images: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The phase-only reconstruction (N, 1, H, W) of the grey images: FFT, every frequency set to
    unit magnitude, inverse FFT; standardised per image. The phase ignores the image's scale, so
    it does not matter that the input is normalized."""
    spectrum = torch.fft.fft2(grey(images).to(torch.promote_types(images.dtype, torch.float32)))
    phase = torch.fft.ifft2(spectrum / spectrum.abs().clamp_min(eps)).real
    phase = phase - phase.mean(dim=(-2, -1), keepdim=True)
    phase = phase / phase.std(dim=(-2, -1), keepdim=True).clamp_min(eps)
    return phase[:, None].to(images.dtype)


class SPSL(PerFrameDetector):
    """RGB + phase (4 channels) into the first `depth` units of a timm CNN, pooled, classified."""

    paper = (
        "Honggu Liu, Xiaodan Li, Wenbo Zhou, Yuefeng Chen, Yuan He, Hui Xue, Weiming Zhang, "
        "Nenghai Yu, Spatial-Phase Shallow Learning: Rethinking Face Forgery Detection in "
        "Frequency Domain, CVPR 2021"
    )

    def __init__(
        self,
        backbone: str = "legacy_xception",
        depth: int | None = 4,
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone = BackboneUnits(backbone, 4, depth, pretrained, weights)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backbone.channels[-1], 1)

    def describe(self) -> str:
        return f"SPSL ({self.backbone_name}, {len(self.backbone.units)} units)"

    def weights_source(self) -> str:
        """ImageNet weights of the backbone (RGB kernels widened to the phase channel)."""
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        return [f"backbone.units.{len(self.backbone.units) - 1}"]

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(torch.cat([images, phase_image(images)], dim=1))
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        return self.classifier(self.dropout(pooled)).squeeze(-1)
