"""FFD: an attention map inside the network that learns where a face was manipulated.

Dang, Liu, Stehouwer, Liu and Jain, "On the Detection of Digital Face Manipulation", CVPR 2020.
Halfway through an Xception (after its middle-flow block 7, 19 x 19 at 299 px) a layer
predicts a one-channel map M_att in (0, 1), and the features go on multiplied by it, so the
rest of the network looks where the map points. With the manipulation masks known, the map is
supervised: L1 between M_att and the mask shrunk to the map's size (all zeros for a real face),
added to the classification loss, L = L_cls + lambda * L_map with lambda = 1, as the authors'
training code adds them. The paper's map comes either from direct regression (a separable
3x3 convolution and a sigmoid, `reg`) or from ten PCA templates of manipulation masks (MAM);
dfd builds the regression map, which needs no template files.

How dfd builds it: timm's `legacy_xception` cut into its units (`BackboneUnits`), the map
after `map_unit` (block 7 by default), then the rest of the network, average pooling and one
fake logit per frame (BCE; the paper's two softmax outputs are the same model). The masks are
the batch's "mask": the datamodule's self-blends give their blend mask M (soft, in [0, 1]),
averaged over each map cell; a real face's is zeros; a prepared fake without a mask (a face
swap) still trains the class, and its map term is left out (`mask_valid`).

How dfd differs from DeepfakeBench's `ffd` detector: DeepfakeBench's config trains without
masks (`with_mask: false`), so its map is never supervised, and its loss code reads a key its
forward pass does not return; dfd always adds the map loss where a mask is known, as the
paper trains. dfd offers no key map for its checkpoints: its Xception's classifier layout
depends on a backbone mode (`adjust_channel`) that this port has not been checked against.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import DetectorOutput
from dfd.models.zoo.masked_losses import masked_mean
from dfd.models.zoo.mid_unit import MidUnitDetector

XCEPTION_BLOCK7 = 7  # legacy_xception's units: stem, block1..block12, conv3, conv4
PAPER_SIZE = 299  # the paper's Xception input (its map is 19 x 19)


def masked_l1(maps: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between maps (N, 1, h, w) and targets, averaged over the images
    whose target is `valid` (N,) (`masked_mean`)."""
    return masked_mean((maps - target).abs().mean((1, 2, 3)), valid)


class FFD(MidUnitDetector):
    """Xception with a supervised attention map after block 7, per frame; a clip's logit is the
    mean of its frames'.

    Args:
        backbone: timm CNN cut into units (the paper's Xception: `legacy_xception`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm backbone.
        map_unit: the unit after which the map is applied (legacy_xception: 7 is block 7).
        map_weight: lambda, the map loss's weight (1 in the authors' code).
        dropout: before the classifier.
    """

    paper = (
        "Dang, Liu, Stehouwer, Liu, Jain, On the Detection of Digital Face Manipulation, CVPR 2020"
    )
    extra_targets = frozenset({"mask"})

    title = "FFD"
    paper_size = PAPER_SIZE

    def __init__(
        self,
        backbone: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        map_unit: int = XCEPTION_BLOCK7,
        map_weight: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(backbone, pretrained, weights, map_unit, dropout, "map_unit")
        self.map_weight = map_weight
        mid = self.mid_channels
        # a separable 3x3 convolution to one channel, as the paper's regression map
        self.attention = nn.Sequential(
            nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False),
            nn.Conv2d(mid, 1, 1, bias=False),
        )

    def head_modules(self) -> list[nn.Module]:
        return [self.attention]

    def at_mid_unit(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The features times the attention map in (0, 1) (N, 1, h, w), and the map."""
        attention = torch.sigmoid(self.attention(features))
        return features * attention, attention

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """Frame maps fitted to the batch's blend masks averaged over each map cell."""
        clips = batch["clip"]
        batch_size, time = clips.shape[:2]
        scores, attention = self.run(clips.flatten(0, 1))
        target = F.adaptive_avg_pool2d(batch["mask"].flatten(0, 1), attention.shape[-2:])
        valid = batch["mask_valid"].repeat_interleave(time)
        loss = masked_l1(attention, target.to(attention.dtype), valid)
        frames = scores.reshape(batch_size, time)
        return DetectorOutput(frames.mean(dim=1), {"map": self.map_weight * loss}, frames)
