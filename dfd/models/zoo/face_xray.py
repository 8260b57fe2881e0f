"""Face X-ray: find the blending boundary a face swap leaves, and call a face fake when one shows.

Li, Bao, Zhang, Yang, Chen, Wen and Guo, "Face X-ray for More General Face Forgery
Detection", CVPR 2020. Most forgeries blend a new face into a frame: I = M * F + (1 - M) * B
for a soft mask M. The face X-ray is the boundary of that blend, X = 4 * M * (1 - M): zero on
a real face (nothing blended) and on both sides of a fake's seam, largest on the seam. The
network predicts X from the image (trained on self-blends, whose M is known) and classifies
the image from its predicted X-ray, so the class follows from evidence of blending rather than
from traits of one forgery method.

How dfd builds it: a timm encoder's multi-scale maps (the paper's HRNet by default:
`hrnet_w18_small`, its four branches, as HRNetV2 concatenates them; any timm CNN by config)
are upsampled to the finest, concatenated and fused by a 1x1 convolution into a one-channel
X-ray, bilinearly upsampled to the input size (logits; a sigmoid gives X). A small
convolutional classifier reads the predicted X-ray. Training loss, as in the paper:
BCE(class) + lambda * per-pixel BCE(X-ray), lambda = 100 (`boundary_weight`).

How dfd differs from DeepfakeBench's `facexray` detector: DeepfakeBench fits the map with
1000 x MSE; dfd uses the paper's per-pixel cross-entropy. Its blends come from landmark
look-ups of the nearest other face (`nearest_face_info.pkl`); dfd's self-blends (the
datamodule's online or paired SBI-style blends) need no files, and their mask M is the batch's
"mask" (its peak is the blend ratio, so a partly blended face shows a weak X-ray inside too).
A prepared fake without a mask (a face swap) still trains the class; its X-ray term is left
out (`mask_valid`).

Verified to learn, in part: on the zoo's small CPU task (64 px self-blends, 150 steps of 16
frames) the loss falls from 49 to 15, the X-ray being learned, but validation AUC is 0.54:
the classifier reads only the predicted X-ray, which is not yet sharp after so few steps (the
paper trains for days on a GPU). A longer run on a GPU is the check this scale cannot make.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import Detector, DetectorOutput
from dfd.models.inputs import InputSpec
from dfd.models.zoo.masked_losses import masked_map_loss
from dfd.models.zoo.timm_features import timm_features


def face_xray(mask: torch.Tensor) -> torch.Tensor:
    """The face X-ray 4 * M * (1 - M) of a blend mask M in [0, 1]: 1 where M = 0.5, 0 at 0 and 1."""
    return 4.0 * mask * (1.0 - mask)


class FaceXray(Detector):
    """Predicts each frame's face X-ray and classifies the frame from it; a clip's logit is the
    mean of its frames'.

    Args:
        encoder: timm model name whose `features_only` maps are fused (default the paper's HRNet).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the encoder (see `timm_features`).
        out_indices: which of the encoder's feature maps to fuse.
        encoder_kwargs: more timm arguments (HRNet: `feature_location: ""`, its raw branches).
        fuse_channels: channels of the fused map before the X-ray's 1x1 convolution.
        boundary_weight: lambda, the X-ray loss's weight (the paper's 100).
    """

    paper = (
        "Li, Bao, Zhang, Yang, Chen, Wen, Guo, Face X-ray for More General Face Forgery "
        "Detection, CVPR 2020"
    )
    extra_targets = frozenset({"mask"})
    frame_scores = True

    def __init__(
        self,
        encoder: str = "hrnet_w18_small",
        pretrained: bool = False,
        weights: str | None = None,
        out_indices: Sequence[int] | None = (1, 2, 3, 4),
        encoder_kwargs: Mapping[str, Any] | None = None,
        fuse_channels: int = 64,
        boundary_weight: float = 100.0,
    ) -> None:
        super().__init__()
        self.encoder_name = encoder
        self.boundary_weight = boundary_weight
        self.encoder = timm_features(
            encoder, pretrained, weights, out_indices, **dict(encoder_kwargs or {})
        )
        channels = sum(self.encoder.feature_info.channels())
        self.min_size = max(self.encoder.feature_info.reduction())
        # HRNet fuses its branches by upsampling with fixed factors: its coarsest stride must
        # divide the image size (other CNNs' maps are resized to the finest one's below)
        self.size_multiple = self.min_size if encoder.startswith("hrnet") else 1
        self.fuse = nn.Sequential(
            nn.Conv2d(channels, fuse_channels, 1, bias=False),
            nn.BatchNorm2d(fuse_channels),
            nn.ReLU(inplace=True),
        )
        self.xray = nn.Conv2d(fuse_channels, 1, 1)
        self.classifier = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, 1),
        )

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length, at least as large as the encoder's coarsest stride (for
        HRNet, a multiple of it)."""
        return InputSpec(
            kind="frames", min_image_size=self.min_size, image_size_multiple=self.size_multiple
        )

    def describe(self) -> str:
        return f"FaceXray ({self.encoder_name})"

    def weights_source(self) -> str:
        return f"timm:{self.encoder_name}"

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The encoder, and the fusion, X-ray and classifier heads."""
        return {
            "backbone": self.encoder,
            "head": nn.ModuleList([self.fuse, self.xray, self.classifier]),
        }

    def gradcam_target_layers(self) -> list[str]:
        """The fused multi-scale map the X-ray is read from."""
        return ["fuse"]

    def xray_and_scores(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """X-ray logits (N, 1, H, W) and fake logits (N,) of normalized images (N, 3, H, W)."""
        maps = self.encoder(images)
        size = maps[0].shape[-2:]
        fused = self.fuse(
            torch.cat(
                [maps[0]]
                + [
                    F.interpolate(m, size=size, mode="bilinear", align_corners=False)
                    for m in maps[1:]
                ],
                dim=1,
            )
        )
        xray = F.interpolate(
            self.xray(fused), size=images.shape[-2:], mode="bilinear", align_corners=False
        )
        return xray, self.classifier(torch.sigmoid(xray)).squeeze(1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clip logits (B,) and frame logits (B, T)."""
        frames = self.xray_and_scores(clips.flatten(0, 1))[1].reshape(clips.shape[:2])
        return frames.mean(dim=1), frames

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Frame X-rays fitted to 4 M (1 - M) of the batch's blend masks (those it has)."""
        clips = batch["clip"]
        batch_size, time = clips.shape[:2]
        xray, scores = self.xray_and_scores(clips.flatten(0, 1))
        target = face_xray(batch["mask"].flatten(0, 1))
        valid = batch["mask_valid"].repeat_interleave(time)
        loss = masked_map_loss(xray, target, valid)
        frames = scores.reshape(batch_size, time)
        return DetectorOutput(frames.mean(dim=1), {"xray": self.boundary_weight * loss}, frames)
