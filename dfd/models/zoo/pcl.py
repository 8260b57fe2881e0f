"""PCL: learn whether every pair of patches in a face comes from the same source image.

Zhao, Xu, Xu, Ding, Xiong and Xia, "Learning Self-Consistency for Deepfake Detection",
ICCV 2021. A blended face carries two sources' traces (camera, compression, synthesis), a
pristine one a single source's everywhere. Pair-wise self-consistency learning (PCL) makes that
a training target: from a mid-level feature map (ResNet-34's conv3, 16 x 16 at 256 px in the
paper) each position is embedded, and the consistency of positions i and j is predicted as
sigmoid(e_i . e_j / sqrt(C)), a 4-D volume (h, w, h, w) per image. Its target comes from the
manipulation mask M shrunk to the same grid: 1 - |M_i - M_j| (all ones for a real face), fitted
with binary cross-entropy; the classification branch reads the rest of the network, and
L = L_cls + lambda * L_PCL.

How dfd builds it: a timm CNN cut into units (`BackboneUnits`; the paper's `resnet34` by
default, the volume after `consistency_unit` 3, its layer3), a 1x1 convolution as the embedding
(one shared for both sides, so the volume is symmetric as consistency is), then the rest of the
network, average pooling and one fake logit per frame. Masks are the batch's "mask": the
datamodule's self-blends give their blend mask; a prepared fake without a mask (a face swap)
trains the class only (`mask_valid`). lambda = 1 (`consistency_weight`, DeepfakeBench's
`pcl_loss_weight`).

How dfd differs from the paper and from DeepfakeBench's `pcl_xception`: the paper trains on
I2G, blends of a real face with another person's; dfd trains on its self-blends (one face blended
with an altered copy of itself), whose masks give the same kind of target; I2G's face-pair
generator is not built. DeepfakeBench's target volume puts the mask itself, not its consistency
with that patch, in the first column of every row (pairs (i, 0)), so a real face's volume is not
all ones there; dfd's target is the formula above at every pair. Its PCL sits on an Xception's
728-channel features after block 7; dfd's default is the paper's ResNet-34, and `backbone:
legacy_xception` with `consistency_unit: 7` gives DeepfakeBench's choice. No key map for its
checkpoints: they hold a modified Xception (`xception_sladd`) this port does not build.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import DetectorOutput
from dfd.models.zoo.masked_losses import masked_mean
from dfd.models.zoo.mid_unit import MidUnitDetector

RESNET_LAYER3 = 3  # a timm ResNet's units: stem, layer1..layer4
PAPER_SIZE = 256  # the paper's input (its volume is 16 x 16 x 16 x 16)


def consistency_target(mask: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The target volume (N, h*w, h*w) of blend masks (N, 1, H, W): 1 - |M_i - M_j| between the
    mask's means over grid cells i and j (all ones for a real face's zero mask)."""
    cells = F.adaptive_avg_pool2d(mask, grid).flatten(1)
    return 1.0 - (cells.unsqueeze(2) - cells.unsqueeze(1)).abs()


def masked_consistency_loss(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Binary cross-entropy between volume logits and targets (N, h*w, h*w), averaged over the
    images whose mask is `valid` (N,)."""
    per_pair = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return masked_mean(per_pair.mean((1, 2)), valid)


class PCL(MidUnitDetector):
    """A CNN whose mid-level features predict the pair-wise consistency of the face's patches,
    per frame; a clip's logit is the mean of its frames'.

    Args:
        backbone: timm CNN cut into units (the paper's: `resnet34`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm backbone.
        consistency_unit: the unit whose output the volume is computed from (resnet34: 3 is
            layer3, as the paper's conv3).
        embed_dim: channels of the embedding (null: the unit's own channel count).
        consistency_weight: lambda, the volume loss's weight.
        dropout: before the classifier.
    """

    paper = (
        "Zhao, Xu, Xu, Ding, Xiong, Xia, Learning Self-Consistency for Deepfake Detection, "
        "ICCV 2021"
    )
    extra_targets = frozenset({"mask"})

    title = "PCL"
    paper_size = PAPER_SIZE

    def __init__(
        self,
        backbone: str = "resnet34",
        pretrained: bool = False,
        weights: str | None = None,
        consistency_unit: int = RESNET_LAYER3,
        embed_dim: int | None = None,
        consistency_weight: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(
            backbone, pretrained, weights, consistency_unit, dropout, "consistency_unit"
        )
        self.consistency_weight = consistency_weight
        self.embed = nn.Conv2d(self.mid_channels, embed_dim or self.mid_channels, 1)

    def head_modules(self) -> list[nn.Module]:
        return [self.embed]

    def at_mid_unit(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features unchanged (the volume only trains them), and the features."""
        return features, features

    def volume(self, features: torch.Tensor) -> torch.Tensor:
        """Consistency logits (N, h*w, h*w) between every pair of positions of a feature map."""
        embedded = self.embed(features).flatten(2)  # (N, C, h*w)
        scale = math.sqrt(embedded.shape[1])
        return torch.einsum("nci,ncj->nij", embedded, embedded) / scale

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Frame volumes fitted to the consistency of the batch's blend masks."""
        clips = batch["clip"]
        batch_size, time = clips.shape[:2]
        scores, features = self.run(clips.flatten(0, 1))
        logits = self.volume(features)
        target = consistency_target(batch["mask"].flatten(0, 1), features.shape[-2:])
        valid = batch["mask_valid"].repeat_interleave(time)
        loss = masked_consistency_loss(logits, target.to(logits.dtype), valid)
        frames = scores.reshape(batch_size, time)
        return DetectorOutput(
            frames.mean(dim=1), {"consistency": self.consistency_weight * loss}, frames
        )
