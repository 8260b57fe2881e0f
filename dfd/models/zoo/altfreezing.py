"""AltFreezing: a 3D CNN whose spatial and temporal weights train in turn.

Wang, Bao, Zhou, Wang, Li, "AltFreezing for More General Video Face Forgery Detection", CVPR
2023. A 3D network trained on forgeries latches onto the easier of two cues, spatial
artefacts or temporal incoherence; AltFreezing splits its convolution weights into spatial
and temporal ones and freezes each group in turn while the other trains, so both get
learned. The paper's network is an I3D-R50; dfd uses torchvision's R(2+1)D-18, whose every
3D convolution is factorized into a (1 x k x k) spatial and a (k x 1 x 1) temporal one, the
split the method needs (batch norms, 1 x 1 x 1 projections and the classifier train always).
The schedule is DeepfakeBench's reading of the authors' code, from the yaml: `spatial_steps`
training steps with the temporal weights frozen, then `temporal_steps` with the spatial ones
frozen, repeated. The detector switches phase itself in `forward_train`, counting training
steps in a buffer saved with its checkpoint (a resumed run continues the cycle). The paper's
video-level data augmentations are not included: the authors released inference code only
(github.com/ZhendongWang6/AltFreezing), and without their text or code at hand dfd would be
guessing at them.

How dfd differs from DeepfakeBench: its clips are frames spread over the whole video; here
they are consecutive (`max_frame_stride` 1, see conf/model/altfreezing.yaml). Kinetics-400
weights for R(2+1)D-18 come from torchvision online (`pretrained: true`); none offline.

At the zoo's learning scale on CPU, R(2+1)D-18 (31M parameters, from scratch) gets 40 steps
of 8 clips (about 5 minutes on a shared 2-core machine): its loss falls (0.74 -> 0.60) but the
validation AUC stays under the zoo's bar (0.57); its learning test asserts the falling loss,
and a unit test that each phase moves only its own weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from dfd.models.backbones import create_torchvision
from dfd.models.base import Detector, DetectorOutput
from dfd.models.inputs import InputSpec

PAPER_CLIP_LEN = 16
PAPER_SIZE = 224


def factorized_weights(network: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(spatial, temporal): the weights of its (1, k, k) and (k, 1, 1) convolutions, k > 1."""
    spatial, temporal = [], []
    for module in network.modules():
        if isinstance(module, nn.Conv3d):
            t, h, w = module.kernel_size
            if t == 1 and h * w > 1:
                spatial.append(module.weight)
            elif t > 1 and h == w == 1:
                temporal.append(module.weight)
    return spatial, temporal


class AltFreezing(Detector):
    """R(2+1)D-18 trained with its spatial and temporal convolution weights frozen in turn."""

    paper = (
        "Wang, Bao, Zhou, Wang, Li, AltFreezing for More General Video Face Forgery "
        "Detection, CVPR 2023"
    )
    gradcam_layout = "channels_first"

    def __init__(
        self,
        spatial_steps: int = 1,
        temporal_steps: int = 20,
        pretrained: bool = False,
        weights: str | None = None,
        max_frame_stride: int | None = 1,
        dropout: float = 0.0,
    ) -> None:
        """`spatial_steps`/`temporal_steps`: training steps of each phase of the cycle (the
        spatial weights train first); `pretrained`: Kinetics-400 weights from torchvision's
        hub; `weights`: a local torchvision state dict instead."""
        super().__init__()
        if spatial_steps < 1 or temporal_steps < 1:
            raise ValueError("AltFreezing: spatial_steps and temporal_steps must be >= 1")
        self.backbone = create_torchvision("r2plus1d_18", pretrained, weights)
        self.backbone.fc = nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(512, 1)
        self.spatial_steps, self.temporal_steps = spatial_steps, temporal_steps
        self.max_frame_stride = max_frame_stride
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def input_spec(self) -> InputSpec:
        """Consecutive frames, any length and size (16 x 224 in the paper)."""
        return InputSpec(
            kind="clips",
            native_clip_len=PAPER_CLIP_LEN,
            native_image_size=PAPER_SIZE,
            max_frame_stride=self.max_frame_stride,
        )

    def describe(self) -> str:
        return "AltFreezing"

    def weights_source(self) -> str:
        return "torchvision:r2plus1d_18"

    def parameter_groups(self) -> dict[str, nn.Module]:
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        return ["backbone.layer4"]

    def phase(self) -> str:
        """Which weights the next training step trains: "spatial" or "temporal"."""
        cycle = int(self.steps) % (self.spatial_steps + self.temporal_steps)
        return "spatial" if cycle < self.spatial_steps else "temporal"

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Freeze the weights of the other phase, then the usual pass; counts the step."""
        spatial, temporal = factorized_weights(self.backbone)
        training_spatial = self.phase() == "spatial"
        for parameter in spatial:
            parameter.requires_grad_(training_spatial)
        for parameter in temporal:
            parameter.requires_grad_(not training_spatial)
        self.steps += 1
        return DetectorOutput(self(batch["clip"]))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        features = self.backbone(clips.transpose(1, 2))
        return self.classifier(self.dropout(features)).squeeze(-1)
