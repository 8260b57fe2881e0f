"""The SRM detector: a stream of high-frequency noise residuals beside the RGB stream.

Luo et al., "Generalizing Face Forgery Detection with High-frequency Features", CVPR 2021.
CNNs trained on RGB overfit to the colour textures of the forgery methods they saw; image noise
removes colour texture and exposes the seam between a pasted face and its surroundings. The
paper's three modules, as dfd builds them on two copies of a timm CNN cut into units
(`dfd.models.zoo.units`):

1. multi-scale high-frequency features: the three fixed SRM filters of Fridrich and Kodovsky's
   rich models (KB, KV and the horizontal second-order residual; not learned) turn the image
   into the noise stream's input, and are applied again, per channel, to the RGB stream's
   low-level features, whose residuals are added into the noise stream (`multiscale_units`);
2. residual-guided spatial attention: a spatial map predicted from the noise stream reweights
   the RGB stream's low-level features, x * attention + x (`attention_unit`);
3. dual cross-modality attention between the two streams' mid-level features (`cross_units`);
   then the two final maps are fused (concatenated, 1x1 conv, channel attention) and
   classified.

How dfd differs from DeepfakeBench (`srm_detector.py`) and the paper: the attention map is
predicted from the noise stream's features rather than straight from the input residual; the
paper's AM-Softmax margin loss is not used (dfd's module trains every detector on BCE of one
logit); the backbone is any timm CNN whose units run in order (default legacy_xception, as in
the paper).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.zoo.cross_attention import CrossAttention
from dfd.models.zoo.per_frame import PerFrameDetector
from dfd.models.zoo.units import BackboneUnits

# Fridrich and Kodovsky, "Rich Models for Steganalysis of Digital Images", IEEE TIFS 2012
SRM_KERNELS = torch.tensor(
    [
        [[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0], [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]],
        [
            [-1, 2, -2, 2, -1],
            [2, -6, 8, -6, 2],
            [-2, 8, -12, 8, -2],
            [2, -6, 8, -6, 2],
            [-1, 2, -2, 2, -1],
        ],
        [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    ],
    dtype=torch.float32,
) / torch.tensor([4.0, 12.0, 2.0]).reshape(3, 1, 1)
TRUNCATION = 3.0  # residuals are clipped to [-T, T], as rich models truncate them


class SRMFilters(nn.Module):
    """The three fixed SRM high-pass filters. `per_channel=False`: each filter summed over the
    input channels (an image's 3 colours -> 3 residuals); True: every channel filtered alone
    (C channels -> 3C residuals, grouped by channel). Constants, not parameters."""

    def __init__(self, channels: int = 3, per_channel: bool = False) -> None:
        super().__init__()
        if per_channel:
            kernels = SRM_KERNELS[:, None].repeat(channels, 1, 1, 1)
        else:
            kernels = SRM_KERNELS[:, None].repeat(1, channels, 1, 1)
        self.register_buffer("kernels", kernels, persistent=False)
        self.groups = channels if per_channel else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = F.conv2d(x, self.kernels.to(x.dtype), padding=2, groups=self.groups)
        return residual.clamp(-TRUNCATION, TRUNCATION)


class FeatureResidual(nn.Sequential):
    """SRM residuals of a feature map, projected to the noise stream's channels."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__(
            SRMFilters(channels, per_channel=True),
            nn.Conv2d(3 * channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class SpatialAttention(nn.Module):
    """A (N, 1, h, w) map in (0, 1) from a feature map's channel mean and max."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))


class Fusion(nn.Module):
    """Concatenated final maps -> 1x1 conv -> channel attention -> pooled features."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mix = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.channel_attention = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.ReLU(),
            nn.Linear(channels // reduction, channels),
            nn.Sigmoid(),
        )

    def forward(self, rgb: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(self.mix(torch.cat([rgb, noise], dim=1)), 1).flatten(1)
        return pooled * self.channel_attention(pooled)


class SRM(PerFrameDetector):
    """RGB and SRM-noise streams of one timm CNN, coupled as in Luo et al. (module docstring)."""

    paper = (
        "Yuchen Luo, Yong Zhang, Junchi Yan, Wei Liu, Generalizing Face Forgery Detection with "
        "High-frequency Features, CVPR 2021"
    )

    def __init__(
        self,
        backbone: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        multiscale_units: Sequence[int] = (0, 1),
        attention_unit: int = 1,
        cross_units: Sequence[int] = (3, 11),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.rgb = BackboneUnits(backbone, 3, None, pretrained, weights)
        self.noise = BackboneUnits(backbone, 3, None, pretrained, weights)
        channels = self.rgb.channels
        for unit in (*multiscale_units, attention_unit, *cross_units):
            if not 0 <= unit < len(channels) - 1:
                raise ValueError(f"unit {unit} is not before the last of {backbone}'s units")
        self.srm = SRMFilters(3)
        self.multiscale = nn.ModuleDict(
            {str(u): FeatureResidual(channels[u], channels[u]) for u in multiscale_units}
        )
        self.attention_unit = attention_unit
        self.attention = SpatialAttention()
        self.cross = nn.ModuleDict({str(u): CrossAttention(channels[u]) for u in cross_units})
        self.fusion = Fusion(channels[-1])
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels[-1], 1)

    def describe(self) -> str:
        return f"SRM ({self.backbone_name})"

    def weights_source(self) -> str:
        """ImageNet weights of the backbone, loaded into both streams."""
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        head = [self.multiscale, self.attention, self.cross, self.fusion, self.classifier]
        return {"backbone": nn.ModuleList([self.rgb, self.noise]), "head": nn.ModuleList(head)}

    def gradcam_target_layers(self) -> list[str]:
        last = len(self.rgb.units) - 1
        return [f"rgb.units.{last}", f"noise.units.{last}"]

    def streams(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two streams' final maps (RGB, noise) of normalized images."""
        rgb, noise = images, self.srm(images)
        for index, (rgb_unit, noise_unit) in enumerate(zip(self.rgb.units, self.noise.units)):
            rgb, noise = rgb_unit(rgb), noise_unit(noise)
            key = str(index)
            if key in self.multiscale:
                noise = noise + self.multiscale[key](rgb)
            if index == self.attention_unit:
                rgb = rgb * self.attention(noise) + rgb
            if key in self.cross:
                rgb, noise = self.cross[key](rgb, noise)
        return rgb, noise

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        features = self.fusion(*self.streams(images))
        return self.classifier(self.dropout(features)).squeeze(-1)
