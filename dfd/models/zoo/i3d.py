"""I3D: a 2D ImageNet network inflated to 3D, its kernels repeated over time.

Carreira, Zisserman, "Quo Vadis, Action Recognition? A New Model and the Kinetics Dataset",
CVPR 2017. I3D turns every N x N kernel of an ImageNet network into a t x N x N one, the 2D
weights repeated t times and divided by t, so a clip of one repeated frame gives the 2D
network's activations: video training starts from image features. The paper inflated
Inception-v1; deepfake work (DeepfakeBench, FTCN, AltFreezing) uses the inflated ResNet-50 of
the SlowFast codebase (temporal kernels 5 in the stem and 3 or 1 per block), which dfd
builds (dfd/models/zoo/resnet3d.py) and inflates from torchvision's ResNet-50
(`pretrained: true` fetches its ImageNet weights online; `weights` inflates a local 2D
state dict, the same code path). One logit from the spatio-temporally pooled features.

How dfd differs from DeepfakeBench: DeepfakeBench loads a Kinetics-400 I3D checkpoint and
feeds 16 frames spread over the whole video; here the clip is consecutive frames
(`max_frame_stride`, see conf/model/i3d.yaml) and the start is ImageNet inflation.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet50

from dfd.config import to_plain
from dfd.models.backbones import hub_error
from dfd.models.base import Detector
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_state_dict, mismatch_report
from dfd.models.zoo.resnet3d import I3D_TEMPORAL_KERNELS, RESNET50_DEPTHS, ResNet3d, inflate_2d

PAPER_CLIP_LEN = 16
PAPER_SIZE = 224


class I3D(Detector):
    """An inflated 3D ResNet (ImageNet ResNet-50's kernels repeated over time), one logit."""

    paper = (
        "Carreira, Zisserman, Quo Vadis, Action Recognition? A New Model and the Kinetics "
        "Dataset, CVPR 2017"
    )
    gradcam_layout = "channels_first"

    def __init__(
        self,
        depths: tuple[int, ...] = RESNET50_DEPTHS,
        width: int = 64,
        pretrained: bool = False,
        weights: str | None = None,
        max_frame_stride: int | None = 1,
        dropout: float = 0.0,
    ) -> None:
        """`pretrained`: inflate torchvision's ImageNet ResNet-50 (online); `weights`: inflate
        a local 2D ResNet state dict (torchvision names)."""
        super().__init__()
        self.backbone = ResNet3d(
            to_plain(depths), width, temporal_kernels=I3D_TEMPORAL_KERNELS[: len(depths)]
        )
        if weights:
            self.inflate(load_state_dict(weights), weights)
        elif pretrained:
            try:
                imagenet = resnet50(weights="DEFAULT").state_dict()
            except (OSError, RuntimeError) as error:
                raise hub_error("resnet50", error) from error
            self.inflate(imagenet, "torchvision:resnet50")
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backbone.num_features, 1)
        self.max_frame_stride = max_frame_stride

    def inflate(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Load a 2D ResNet's weights, inflated, into the 3D backbone (every key must fit)."""
        inflated = inflate_2d(state, self.backbone)
        problems = mismatch_report(self.backbone, inflated)
        if problems:
            raise ValueError(f"weights {source} do not inflate into I3D's ResNet: {problems}")
        self.backbone.load_state_dict(inflated)

    @property
    def input_spec(self) -> InputSpec:
        """Consecutive frames, any length and size (16 x 224 for DeepfakeBench's I3D)."""
        return InputSpec(
            kind="clips",
            native_clip_len=PAPER_CLIP_LEN,
            native_image_size=PAPER_SIZE,
            max_frame_stride=self.max_frame_stride,
        )

    def describe(self) -> str:
        return "I3D"

    def weights_source(self) -> str:
        return "torchvision:resnet50 (inflated)"

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        return [f"backbone.layers.{len(self.backbone.layers) - 1}"]

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        features = self.backbone(clips.transpose(1, 2)).mean(dim=(2, 3, 4))
        return self.classifier(self.dropout(features)).squeeze(-1)
