"""RFM: hide the regions the detector leans on most, so it learns the forgery traces beyond them.

Wang and Deng, "Representative Forgery Mining for Fake Face Detection", CVPR 2021. A detector
tends to settle on a few telltale regions of a fake and ignore the rest. RFM finds them with a
forgery attention map (FAM): the magnitude of the gradient of the fake-minus-real logit with
respect to the input pixels (the largest over the colour channels), computed with the network
in evaluation mode. Each training image then has up to three blocks erased at its highest-FAM
points (each block of random height and width up to 120 px of the paper's 256, placed at random
around its point) and filled with uniform noise, and the network trains on the erased images.
Testing sees whole faces. The network itself is a plain classifier (Xception in the paper).

How dfd builds it: timm's `legacy_xception` (any timm model by `backbone`) on every frame, the
clip's logit from its frames' mean feature, like `xception`; the FAM is the gradient of each
clip's logit with respect to each of its frames, taken with `torch.autograd.grad` (the
parameters' gradients are left untouched), and each frame is erased on its own map. Block sizes
scale with the image (`max_block`: 120/256 of its side) and each block covers its point. The
noise is uniform in [-1, 1] of the normalized input, the full pixel range under the paper's
normalisation (mean and std 0.5), a little narrower than it under ImageNet statistics.

DeepfakeBench's `rfm` does the same with a fixed 256 px image (block sizes and coordinates) and
zeroes the parameters' gradients to compute the map; its checkpoints hold its Xception, whose
layout dfd's Xception map knows, so they load with their scores:
`model.detector_weights=<file> model.key_map=deepfakebench_rfm`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from dfd.models.backbones import timm_encoder
from dfd.models.base import DetectorOutput
from dfd.models.detector import FrameDetector
from dfd.models.inputs import InputSpec
from dfd.models.temporal import MeanPool
from dfd.models.weights import load_weights

PAPER_SIZE = 256
PAPER_BLOCK = 120 / PAPER_SIZE  # the largest erased block, as a share of the image side


def random_int(low: int, high: int) -> int:
    """A draw from [low, high] from torch's generator (seeded with the run)."""
    return int(torch.randint(low, high + 1, ()).item())


def erase_representative_regions(
    images: torch.Tensor, attention: torch.Tensor, blocks: int, max_block: int
) -> torch.Tensor:
    """Images (N, C, H, W) with `blocks` random blocks (sides 1..max_block) erased around their
    highest-attention points (N, H, W) not yet erased, filled with uniform noise in [-1, 1]."""
    n, _, height, width = images.shape
    keep = torch.ones(n, height, width, dtype=torch.bool)
    order = attention.detach().flatten(1).argsort(dim=1, descending=True).cpu()
    for i in range(n):
        erased = 0
        for index in order[i].tolist():
            y, x = divmod(index, width)
            if not keep[i, y, x]:
                continue
            block_h, block_w = random_int(1, max_block), random_int(1, max_block)
            top = max(y - random_int(0, block_h - 1), 0)
            left = max(x - random_int(0, block_w - 1), 0)
            keep[i, top : top + block_h, left : left + block_w] = False
            erased += 1
            if erased == blocks:
                break
    kept = keep.to(images.device, images.dtype)[:, None]
    noise = torch.rand_like(images) * 2 - 1
    return kept * images + (1 - kept) * noise


class RFM(FrameDetector):
    """A frame classifier trained on faces whose most representative regions, by its own
    forgery attention map, are erased; a clip's logit comes from its frames' mean feature.

    Args:
        backbone: timm model (the paper's: `legacy_xception`).
        pretrained: ImageNet weights from the model hub (online only).
        weights: a local state dict of the timm backbone.
        dropout: before the classifier.
        blocks: blocks erased per image (3 in the paper).
        max_block: the largest block side, as a share of the image side (120 of 256 px).
        detector_weights: a trained detector's weights (dfd's layout, or renamed by `key_map`).
        key_map: `deepfakebench_rfm` for a DeepfakeBench RFM checkpoint.
    """

    paper = "Wang, Deng, Representative Forgery Mining for Fake Face Detection, CVPR 2021"

    def __init__(
        self,
        backbone: str = "legacy_xception",
        pretrained: bool = False,
        weights: str | None = None,
        dropout: float = 0.0,
        blocks: int = 3,
        max_block: float = PAPER_BLOCK,
        detector_weights: str | None = None,
        key_map: str | None = None,
    ) -> None:
        if blocks < 0 or not 0 < max_block <= 1:
            raise ValueError("blocks must be >= 0 and max_block a share of the side in (0, 1]")
        super().__init__(timm_encoder(backbone, pretrained, weights), MeanPool, dropout)
        self.backbone_name, self.blocks, self.max_block = backbone, blocks, max_block
        if detector_weights:
            load_weights(self, detector_weights, key_map, name=self.describe())

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length and size from 7 px (Xception's unpadded stem; the paper's
        size is 256)."""
        return InputSpec(kind="frames", min_image_size=7, native_image_size=PAPER_SIZE)

    def describe(self) -> str:
        return f"RFM ({self.backbone_name})"

    def forgery_attention(self, clips: torch.Tensor) -> torch.Tensor:
        """|d logit / d pixel|, the largest over the channels (B, T, H, W), in eval mode."""
        was_training = self.training
        self.eval()
        try:
            with torch.enable_grad():
                pixels = clips.detach().requires_grad_(True)
                (gradient,) = torch.autograd.grad(self(pixels).sum(), pixels)
        finally:
            self.train(was_training)
        return gradient.abs().amax(dim=2)

    def forward_train(self, batch: Mapping[str, torch.Tensor]) -> DetectorOutput:
        """The clips with their frames' representative regions erased, scored."""
        clips = batch["clip"]
        if self.blocks == 0:
            return DetectorOutput(self(clips))
        attention = self.forgery_attention(clips)
        max_block = max(1, round(self.max_block * min(clips.shape[-2:])))
        erased = erase_representative_regions(
            clips.flatten(0, 1), attention.flatten(0, 1), self.blocks, max_block
        )
        return DetectorOutput(self(erased.reshape(clips.shape)))
