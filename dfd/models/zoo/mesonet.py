"""MesoNet: Meso4 and MesoInception4, shallow networks that read faces at a mesoscopic level.

Afchar, Nozick, Yamagishi, Echizen, "MesoNet: a Compact Facial Video Forgery Detection
Network", IEEE WIFS 2018. Written from the paper: Meso4 is four convolution blocks (ReLU, batch
normalization, max pooling) then two dense layers with dropout 0.5 (16 units, LeakyReLU 0.1;
then one output); MesoInception4 replaces the first two blocks by Inception-style blocks whose
branches are a 1x1 convolution and 3x3 convolutions of dilation 1, 2 and 3. The paper counts
27,977 and 28,615 trainable parameters; these networks have exactly as many.

Sizes: the paper's input is 256 px, where the fourth block's 32x32 map is max-pooled 4x4 into
the 8x8x16 map the first dense layer reads. Here that last pooling is adaptive to an 8x8 output,
which is that same 4x4 pooling at 256 px and lets the network take any size from 64 px (where
the fourth block's map is already 8x8) with the same parameters.

Clips: every frame is scored alone; the clip's probability is the mean of its frames'
probabilities (the paper's aggregation over a video's frames), returned as a logit.

How dfd differs from DeepfakeBench's `networks/mesonet.py`: there one batch-norm layer is
shared by blocks 1-2 and another by blocks 3-4 (the paper has one per block), the Inception
branches have no ReLU, convolutions have no bias, dropout is `Dropout2d` on flat features, the
input must be 256 px, and the head has two softmax outputs; dfd follows the paper on each.
Evaluated, a trained DeepfakeBench Meso4 is still this network (each shared batch norm copied
into both its blocks, zero biases, the logit the difference of its two outputs): its checkpoints
load as `detector_weights` with `key_map=deepfakebench_meso4` (dfd.models.weights), with its
scores at 256 px. Its MesoInception4 has no such map: without the branches' ReLU it computes
another function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dfd.models.base import Detector
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_weights

MESONET_PAPER = (
    "Afchar, Nozick, Yamagishi, Echizen, MesoNet: a Compact Facial Video Forgery Detection "
    "Network, WIFS 2018"
)
PAPER_SIZE = 256
HEAD_MAP = 8  # the side of the map the first dense layer reads (8x8x16 at 256 px)


def mean_probability_logit(frame_logits: torch.Tensor) -> torch.Tensor:
    """The logit of the mean of the frames' probabilities (B, T) -> (B,):
    log(mean sigmoid(z)) - log(mean sigmoid(-z)), in log space so no logit saturates."""
    return torch.logsumexp(F.logsigmoid(frame_logits), 1) - torch.logsumexp(
        F.logsigmoid(-frame_logits), 1
    )


def conv_relu(in_channels: int, out_channels: int, kernel: int, dilation: int = 1) -> nn.Module:
    """A 'same'-padded convolution followed by ReLU."""
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=padding, dilation=dilation),
        nn.ReLU(inplace=True),
    )


class ConvBlock(nn.Sequential):
    """Meso4's block: convolution, ReLU, then batch normalization (the paper's order)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__(conv_relu(in_channels, out_channels, kernel), nn.BatchNorm2d(out_channels))


class DilatedInception(nn.Module):
    """MesoInception4's block: a 1x1 branch and three 1x1-then-3x3 branches of dilation 1, 2
    and 3 (a wider view without 5x5 kernels), concatenated, then batch normalization."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        plain, *dilated = widths
        self.branches = nn.ModuleList([conv_relu(in_channels, plain, 1)])
        for dilation, width in enumerate(dilated, start=1):
            self.branches.append(
                nn.Sequential(
                    conv_relu(in_channels, width, 1), conv_relu(width, width, 3, dilation)
                )
            )
        self.norm = nn.BatchNorm2d(sum(widths))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.cat([branch(images) for branch in self.branches], dim=1))


class MesoNet(Detector):
    """A MesoNet: `blocks` (four, each followed by max pooling, the last one adaptive) and the
    paper's dense head; frames scored alone, their probabilities averaged over the clip."""

    paper = MESONET_PAPER
    frame_scores = True

    def __init__(self, blocks: list[nn.Module], dropout: float = 0.5) -> None:
        super().__init__()
        pools = [nn.MaxPool2d(2, ceil_mode=True) for _ in blocks[:-1]]
        pools.append(nn.AdaptiveMaxPool2d(HEAD_MAP))
        self.features = nn.Sequential(*[m for pair in zip(blocks, pools) for m in pair])
        self.head = nn.Sequential(
            nn.Flatten(1),
            nn.Dropout(dropout),
            nn.Linear(16 * HEAD_MAP * HEAD_MAP, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, 1),
        )

    @property
    def input_spec(self) -> InputSpec:
        """Frames of any clip length, from 64 px (the paper's size is 256)."""
        return InputSpec(kind="frames", min_image_size=HEAD_MAP * 8, native_image_size=PAPER_SIZE)

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The convolution blocks, and the dense head."""
        return {"backbone": self.features, "head": self.head}

    def gradcam_target_layers(self) -> list[str]:
        """The fourth block, before its pooling."""
        return [f"features.{len(self.features) - 2}"]

    def frame_logits(self, clips: torch.Tensor) -> torch.Tensor:
        """One logit per frame (B, T)."""
        batch, time = clips.shape[:2]
        return self.head(self.features(clips.flatten(0, 1))).reshape(batch, time)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.forward_with_frames(clips)[0]

    def forward_with_frames(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame logits (B, T) and the clip's: the logit of their mean probability."""
        frames = self.frame_logits(clips)
        return mean_probability_logit(frames), frames


class Meso4(MesoNet):
    """Meso4 (Afchar et al., WIFS 2018): convolutions of 8, 8, 16, 16 filters (3x3 then 5x5)."""

    def __init__(
        self,
        dropout: float = 0.5,
        detector_weights: str | None = None,
        key_map: str | None = None,
    ) -> None:
        """`detector_weights`: a trained detector's weights, in dfd's layout or renamed by
        `key_map` (`deepfakebench_meso4`: a DeepfakeBench Meso4 checkpoint)."""
        widths = [(3, 8, 3), (8, 8, 5), (8, 16, 5), (16, 16, 5)]
        super().__init__([ConvBlock(*width) for width in widths], dropout)
        if detector_weights:
            load_weights(self, detector_weights, key_map, name=self.describe())


class MesoInception4(MesoNet):
    """MesoInception4 (Afchar et al., WIFS 2018): Meso4 with its first two blocks replaced by
    dilated Inception blocks of branch widths (1, 4, 4, 2) and (2, 4, 4, 2)."""

    def __init__(self, dropout: float = 0.5) -> None:
        blocks = [
            DilatedInception(3, (1, 4, 4, 2)),
            DilatedInception(11, (2, 4, 4, 2)),
            ConvBlock(12, 16, 5),
            ConvBlock(16, 16, 5),
        ]
        super().__init__(blocks, dropout)
