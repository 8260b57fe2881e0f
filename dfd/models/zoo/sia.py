"""SIA: attention from self-information, where a feature stands out from its surroundings.

Sun, Liu, Yao, Sun, Chen, Ding and Ji, "An Information Theoretic Approach for Attention-Driven
Face Forgery Detection", ECCV 2022. Forgery traces are the places where a feature map says
something its context does not: a feature's self-information is high where it is unlikely given
its neighbours. The self-information attention (SIA) module measures, for every feature, its
distance to its 3x3 spatial neighbourhood (|sum of the neighbourhood - 9 x|) plus half its
distance to the next five channels, and, with no weights of its own, turns that into a spatial
attention (sigmoid(d / 2 mean(d)) + 1, multiplying the features) and a channel attention (the
spatial mean of the information -log(exp(-d / 2 mean(d)) + 0.1), plus 1). Modules sit after
three stages of an EfficientNet-B4, and each one's spatial map also feeds the later ones
(a 1x1 convolution, max-pooled to their size, added to their input), so shallow traces reach
the deep layers.

How dfd builds it: timm's `efficientnet_b4` (any timm EfficientNet by `backbone`) run stage by
stage, SIA after the stages that end at blocks 5, 9 and 21 of EfficientNet-B4's 32, where
DeepfakeBench's port places them (stages 1, 2 and 4 of timm's seven), the cross-stage links 1 -> 2, 1 -> 4 and 2 -> 4, then EfficientNet's head,
average pooling and one fake logit per frame. The distances are taken without gradient, as the
paper's modules have no weights to fit.

How dfd differs from DeepfakeBench's `sia`: its sum over the five channel offsets reshapes the
stacked differences so that it adds up neighbouring channels of one offset instead of one
channel's differences over the offsets; dfd sums each channel's own. It normalises the
distances by their mean over the whole batch, so a face's score depends on the faces batched
with it; dfd uses each image's own mean. Its residual links pool to a fixed 32 and 16 cells
(256 px inputs); dfd pools to the receiving map's size. No key map for its checkpoints: its
EfficientNet-B4 is EfficientNet-PyTorch's, which computes another function at 256 px than
timm's (see `efficientnet_b4` in the zoo's checkpoint table).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.inputs import InputSpec
from dfd.models.zoo.efficientnet_stages import efficientnet, stage_channels
from dfd.models.zoo.per_frame import PerFrameDetector

ATTENTION_STAGES = (1, 2, 4)  # timm EfficientNet stages ending at blocks 5, 9 and 21
LINKS = ((1, 2), (1, 4), (2, 4))  # an earlier module's map feeds a later module's input
NEIGHBOURHOOD = 3
CHANNEL_OFFSETS = 5
PAPER_SIZE = 256


def feature_distance(features: torch.Tensor) -> torch.Tensor:
    """How far each feature lies from its 3x3 neighbourhood, plus half its summed difference to
    the next `CHANNEL_OFFSETS` channels (wrapping round), without gradient."""
    with torch.no_grad():
        channels = features.shape[1]
        ones = features.new_ones(channels, 1, NEIGHBOURHOOD, NEIGHBOURHOOD)
        neighbourhood = F.conv2d(features, ones, padding=NEIGHBOURHOOD // 2, groups=channels)
        intra = (neighbourhood - NEIGHBOURHOOD**2 * features).abs()
        inter = sum(
            features - features.roll(-offset, dims=1) for offset in range(1, CHANNEL_OFFSETS + 1)
        )
        return intra + 0.5 * inter.abs()


class SelfInformationAttention(nn.Module):
    """The parameter-free SIA module: features weighted by spatial and channel attention from
    their self-information; also returns the normalised distance map the later stages read."""

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        distance = feature_distance(features)
        scaled = distance / (2 * distance.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6))
        information = -torch.log(torch.exp(-scaled) + 0.1)
        channel = information.mean(dim=(2, 3), keepdim=True) + 1
        spatial = torch.sigmoid(scaled) + 1
        return features * spatial * channel, scaled


class SIA(PerFrameDetector):
    """An EfficientNet with self-information attention after three stages and links from the
    earlier modules' maps to the later ones, per frame; a clip's logit is its frames' mean.

    Args:
        backbone: a timm EfficientNet (the paper's: `efficientnet_b4`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm backbone.
        dropout: before the classifier.
    """

    paper = (
        "Sun, Liu, Yao, Sun, Chen, Ding, Ji, An Information Theoretic Approach for "
        "Attention-Driven Face Forgery Detection, ECCV 2022"
    )

    def __init__(
        self,
        backbone: str = "efficientnet_b4",
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone = efficientnet(backbone, pretrained, weights)
        channels = stage_channels(self.backbone)
        self.attention = SelfInformationAttention()
        self.links = nn.ModuleDict(
            {
                f"{source}_{target}": nn.Sequential(
                    nn.Conv2d(channels[source], channels[target], 1),
                    nn.BatchNorm2d(channels[target]),
                    nn.ReLU(),
                )
                for source, target in LINKS
            }
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backbone.num_features, 1)

    @property
    def input_spec(self) -> InputSpec:
        """Frames of at least 32 px (the network's total stride); the paper's size is 256."""
        return InputSpec(kind="frames", min_image_size=32, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"SIA ({self.backbone_name})"

    def weights_source(self) -> str:
        return f"timm:{self.backbone_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The EfficientNet; the cross-stage links and the classifier (SIA has no weights)."""
        return {"backbone": self.backbone, "head": nn.ModuleList([self.links, self.classifier])}

    def gradcam_target_layers(self) -> list[str]:
        """EfficientNet's head convolution's output, the map the classifier pools."""
        return ["backbone.bn2"]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The head's feature map of normalized images, with SIA after the attention stages."""
        x = self.backbone.bn1(self.backbone.conv_stem(images))
        maps: dict[int, torch.Tensor] = {}
        for index, stage in enumerate(self.backbone.blocks):
            x = stage(x)
            if index in ATTENTION_STAGES:
                for source, target in LINKS:
                    if target == index:
                        link = self.links[f"{source}_{target}"](maps[source])
                        x = x + F.adaptive_max_pool2d(link, x.shape[-2:])
                x, maps[index] = self.attention(x)
        return self.backbone.bn2(self.backbone.conv_head(x))

    def score_images(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.dropout(self.features(images).mean((2, 3)))
        return self.classifier(pooled).squeeze(1)
