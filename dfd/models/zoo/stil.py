"""STIL: a 2D ResNet whose bottlenecks learn spatial and temporal inconsistency.

Gu, Chen, Yao, Ding, Li, Huang, Ma, "Spatiotemporal Inconsistency Learning for DeepFake Video
Detection", ACM MM 2021. A 2D CNN reads the T frames of a clip as B*T images; in every
bottleneck the 3x3 convolution is replaced by an STIL block, whose 1x1 reduction is split in two
halves:

- the spatial half goes through the Spatial Inconsistency Module (SIM): a mask compares each
  position with its neighbourhood's context (average-pooled by 4, then a horizontal 1x3 and a
  vertical 3x1 convolution, upsampled): sigmoid(x + context); it gates a 3x3 convolution of x,
  and a second 3x3 convolution (carrying the block's stride) follows;
- the temporal half goes through the Temporal Inconsistency Module (TIM): channels reduced 16
  times, then two branches, height-time and time-width, each the difference between the next
  frame (aligned by a depthwise convolution along its direction: 3x1 for height, 1x3 for width)
  and this frame, taken at two scales (directly and after pooling by 2 along its direction) and
  mapped back to the channels as an attention sigmoid(.) - 0.5; the branches' mean A gives
  x + x * A. The last frame, which has no next frame, gets no difference;
- the Information Supplement Module (ISM) adds SIM's gated features, reweighted by a channel
  attention (global pooling, a 1D convolution of 3 across channels, sigmoid), to TIM's output;
- a temporal shift mixes each channel with its previous and next frames (a learned per-channel
  3-tap filter over time, initialised as TSM's shift: an eighth of the channels from the next
  frame, an eighth from the previous one), then a 3x3 convolution (the stride) follows;

the halves are concatenated into the bottleneck's 1x1 expansion and its residual. Every frame
gets a logit from the pooled features; the clip's logit is their mean (one logit with BCE where
the paper uses a two-way softmax: the same model).

The paper's backbone is SCNet-50-v1d, whose weights no offline hub holds. dfd builds the STIL
blocks into a timm ResNet of bottlenecks: `resnet50d` (the paper's depth, with SCNet-v1d's
deep stem and average-pooled shortcut) by default, `resnet26d` or a smaller one through
`backbone_kwargs` for CPUs. Its stem, 1x1 convolutions and shortcuts keep timm's ImageNet
weights when `pretrained` (online); the STIL modules start at random. The block's stride sits in
each half's last 3x3 convolution (ResNet-D's place), not in SCNet-v1d's average pooling.

How dfd differs from DeepfakeBench (whose network is the authors' released code): it reads any
clip length T >= 2 from the clip itself, where DeepfakeBench fixes T at construction (the
authors train on 8 frames and test on 16 by resetting it); its clips are whatever the
datamodule gives, with no stride enforced (`max_frame_stride` null): the authors' released
code (Tencent's TFace) samples its 8 frames spread over the whole video, one per segment (TSN),
and DeepfakeBench reads 8 of 32 frames spread over the video, so sparse clips are STIL's own
input, and dense ones work too (set `max_frame_stride` to hold training to them). Nothing
downloads at construction (DeepfakeBench fetches SCNet's ImageNet weights from an OSS URL
whatever its config says). The authors' training also reverses a clip's frames at random; dfd
leaves augmentation to the datamodule.

At the zoo's learning scale (a one-block-per-stage ResNet-26-D, 16 to 128 channels, from
scratch, 64 px, clips of 2 frames, 40 steps) STIL passes the zoo's bar (loss 0.67 -> 0.41,
validation AUC 0.74): its spatial half sees the self-blends' boundary in each frame.
"""

from __future__ import annotations

import torch
from timm.models.resnet import Bottleneck
from torch import nn
from torch.nn import functional as F

from dfd.config import to_plain
from dfd.models.backbones import timm_encoder
from dfd.models.base import Detector
from dfd.models.inputs import InputSpec
from dfd.models.weights import load_weights

PAPER_CLIP_LEN = 8
PAPER_SIZE = 224
STAGES = ("layer1", "layer2", "layer3", "layer4")


def conv_bn(
    channels_in: int,
    channels_out: int,
    kernel: tuple[int, int],
    stride: int = 1,
    groups: int = 1,
) -> nn.Sequential:
    """A 'same'-padded convolution without bias, then batch norm."""
    padding = (kernel[0] // 2, kernel[1] // 2)
    conv = nn.Conv2d(channels_in, channels_out, kernel, stride, padding, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(channels_out))


def pool_to(maps: torch.Tensor, factor_h: int, factor_w: int) -> torch.Tensor:
    """Average-pool (N, C, H, W) maps by these factors (at least one cell per side)."""
    height, width = maps.shape[-2:]
    return F.adaptive_avg_pool2d(maps, (max(1, height // factor_h), max(1, width // factor_w)))


class SpatialInconsistency(nn.Module):
    """SIM: a 3x3 convolution gated by sigmoid(x + its pooled horizontal-vertical context), then
    a strided 3x3 convolution. Returns (output, gated features for ISM)."""

    def __init__(self, channels: int, stride: int, pooling: int = 4) -> None:
        super().__init__()
        self.pooling = pooling
        self.horizontal = nn.Sequential(conv_bn(channels, channels, (1, 3)), nn.ReLU())
        self.vertical = conv_bn(channels, channels, (3, 1))
        self.features = conv_bn(channels, channels, (3, 3))
        self.out = conv_bn(channels, channels, (3, 3), stride)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = self.vertical(self.horizontal(pool_to(maps, self.pooling, self.pooling)))
        mask = torch.sigmoid(maps + F.interpolate(context, size=maps.shape[-2:], mode="nearest"))
        gated = self.features(maps) * mask
        return self.out(gated), gated


class DirectionalDifference(nn.Module):
    """One TIM branch: (next frame, aligned along `direction`) - (this frame), at full and at
    half resolution along that direction, mapped to an attention in (-0.5, 0.5)."""

    def __init__(self, reduced: int, channels: int, direction: str) -> None:
        super().__init__()
        if direction not in ("height", "width"):
            raise ValueError(f"direction is 'height' or 'width'; got '{direction}'")
        self.direction = direction
        kernel = (3, 1) if direction == "height" else (1, 3)
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.align = nn.Conv2d(
            reduced, reduced, kernel, padding=padding, groups=reduced, bias=False
        )
        self.fine = conv_bn(reduced, reduced, kernel)
        self.coarse = conv_bn(reduced, reduced, kernel)
        self.expand = conv_bn(reduced, channels, (1, 1))

    def difference(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        """(B*T, c, H, W): the aligned next frame minus each frame; zero for the last frame."""
        aligned = self.align(frames).unflatten(0, (-1, clip_len))
        frames = frames.unflatten(0, (-1, clip_len))
        change = aligned[:, 1:] - frames[:, :-1]
        return torch.cat([change, torch.zeros_like(frames[:, :1])], dim=1).flatten(0, 1)

    def forward(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        change = self.difference(frames, clip_len)
        factors = (2, 1) if self.direction == "height" else (1, 2)
        coarse = self.coarse(pool_to(change, *factors))
        coarse = F.interpolate(coarse, size=change.shape[-2:], mode="nearest")
        mixed = (change + self.fine(change) + coarse) / 3
        return torch.sigmoid(self.expand(mixed)) - 0.5


class TemporalInconsistency(nn.Module):
    """TIM: x + x * attention, the attention the mean of the height-time and time-width
    branches' differences between adjacent frames, on channels reduced `reduction` times."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        reduced = max(1, channels // reduction)
        self.reduce = conv_bn(channels, reduced, (1, 1))
        self.height_time = DirectionalDifference(reduced, channels, "height")
        self.time_width = DirectionalDifference(reduced, channels, "width")

    def attention(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        reduced = self.reduce(frames)
        return (self.height_time(reduced, clip_len) + self.time_width(reduced, clip_len)) / 2

    def forward(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        return frames + frames * self.attention(frames, clip_len)


class InformationSupplement(nn.Module):
    """ISM: SIM's features reweighted by a channel attention (global average, a 1D convolution
    across neighbouring channels, sigmoid), to be added to TIM's output."""

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, spatial: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.conv(spatial.mean(dim=(2, 3)).unsqueeze(1))).squeeze(1)
        return spatial * weights[:, :, None, None]


class TemporalShift(nn.Module):
    """Each channel a learned mix of its previous, own and next frame (zeros past the clip's
    ends), initialised as TSM's shift: 1/`fold` of the channels take the next frame, 1/`fold`
    the previous one, the rest stay."""

    def __init__(self, channels: int, fold: int = 8) -> None:
        super().__init__()
        taps = torch.zeros(channels, 3)  # weights of frames t-1, t, t+1
        part = channels // fold
        taps[:part, 2] = 1.0
        taps[part : 2 * part, 0] = 1.0
        taps[2 * part :, 1] = 1.0
        self.taps = nn.Parameter(taps)

    def forward(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        clips = frames.unflatten(0, (-1, clip_len))
        none = torch.zeros_like(clips[:, :1])
        previous = torch.cat([none, clips[:, :-1]], dim=1)
        following = torch.cat([clips[:, 1:], none], dim=1)
        mixed = sum(
            tap.view(1, 1, -1, 1, 1) * clip
            for tap, clip in zip(self.taps.unbind(1), (previous, clips, following))
        )
        return mixed.flatten(0, 1)


class STILBlock(nn.Module):
    """A timm bottleneck with its 3x3 convolution replaced by the STIL block: its 1x1
    reduction split into a temporal half (TIM + ISM, temporal shift, 3x3) and a spatial half
    (SIM), concatenated into its 1x1 expansion and residual. Frames (B*T, C, H, W) in and out."""

    def __init__(
        self, bottleneck: Bottleneck, tim_reduction: int = 16, sim_pooling: int = 4, fold: int = 8
    ) -> None:
        super().__init__()
        width = bottleneck.conv1.out_channels
        if width % 2 or bottleneck.se is not None or not isinstance(bottleneck.aa, nn.Identity):
            raise ValueError("STIL needs plain bottlenecks of even width (no SE, no anti-aliasing)")
        stride = bottleneck.conv2.stride[0]
        half = width // 2
        self.conv1, self.bn1, self.act1 = bottleneck.conv1, bottleneck.bn1, bottleneck.act1
        self.sim = SpatialInconsistency(half, stride, sim_pooling)
        self.tim = TemporalInconsistency(half, tim_reduction)
        self.ism = InformationSupplement()
        self.shift = TemporalShift(half, fold)
        self.temporal_out = conv_bn(half, half, (3, 3), stride)
        self.conv3, self.bn3, self.act3 = bottleneck.conv3, bottleneck.bn3, bottleneck.act3
        self.downsample = bottleneck.downsample

    def forward(self, frames: torch.Tensor, clip_len: int) -> torch.Tensor:
        temporal, spatial = self.act1(self.bn1(self.conv1(frames))).chunk(2, dim=1)
        spatial, gated = self.sim(spatial)
        temporal = self.tim(temporal, clip_len) + self.ism(gated)
        temporal = self.temporal_out(self.shift(temporal, clip_len))
        out = self.bn3(self.conv3(torch.cat([F.relu(temporal), F.relu(spatial)], dim=1)))
        shortcut = frames if self.downsample is None else self.downsample(frames)
        return self.act3(out + shortcut)


class STIL(Detector):
    """A timm ResNet with STIL blocks over the B*T frames of clips; the mean frame logit."""

    paper = (
        "Gu, Chen, Yao, Ding, Li, Huang, Ma, Spatiotemporal Inconsistency Learning for DeepFake "
        "Video Detection, ACM MM 2021"
    )

    def __init__(
        self,
        backbone: str = "resnet50d",
        pretrained: bool = False,
        weights: str | None = None,
        tim_reduction: int = 16,
        sim_pooling: int = 4,
        shift_fold: int = 8,
        max_frame_stride: int | None = None,
        dropout: float = 0.0,
        backbone_kwargs: dict | None = None,
    ) -> None:
        """`backbone`: a timm ResNet of bottlenecks (resnet50d: the paper's depth), its
        ImageNet weights from timm's hub when `pretrained`; `weights`: a local state dict of
        this whole detector; `tim_reduction`, `sim_pooling`, `shift_fold`: the paper's 16, 4
        and 8; `backbone_kwargs`: timm settings (e.g. fewer layers and channels for a CPU)."""
        super().__init__()
        self.backbone = timm_encoder(backbone, pretrained, **to_plain(backbone_kwargs or {}))
        net = self.backbone.model
        if not all(hasattr(net, stage) for stage in STAGES) or not all(
            isinstance(block, Bottleneck) for stage in STAGES for block in getattr(net, stage)
        ):
            raise ValueError(
                f"STIL's backbone is a timm ResNet of bottleneck blocks (resnet26d, resnet50d, "
                f"...); got '{backbone}'"
            )
        for stage in STAGES:
            blocks = getattr(net, stage)
            for index, block in enumerate(blocks):
                blocks[index] = STILBlock(block, tim_reduction, sim_pooling, shift_fold)
        self.max_frame_stride = max_frame_stride
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backbone.num_features, 1)
        if weights:
            load_weights(self, weights, name=self.describe())

    @property
    def input_spec(self) -> InputSpec:
        """Clips of 2 or more frames (8 of 224 px in the paper), any size."""
        return InputSpec(
            kind="clips",
            min_clip_len=2,
            native_clip_len=PAPER_CLIP_LEN,
            native_image_size=PAPER_SIZE,
            max_frame_stride=self.max_frame_stride,
        )

    def describe(self) -> str:
        return "STIL"

    def weights_source(self) -> str:
        return self.backbone.source

    def parameter_groups(self) -> dict[str, nn.Module]:
        """The STIL network (its modules live inside the ResNet's blocks) and the head."""
        return {"backbone": self.backbone, "head": self.classifier}

    def gradcam_target_layers(self) -> list[str]:
        """The last STIL block, per frame."""
        last = len(self.backbone.model.layer4) - 1
        return [f"backbone.model.layer4.{last}"]

    def frame_logits(self, clips: torch.Tensor) -> torch.Tensor:
        """Logits (B, T) of each frame, read with its clip (TIM and the shift see neighbours)."""
        batch, clip_len = clips.shape[:2]
        net = self.backbone.model
        maps = net.maxpool(net.act1(net.bn1(net.conv1(clips.flatten(0, 1)))))
        for stage in STAGES:
            for block in getattr(net, stage):
                maps = block(maps, clip_len)
        features = net.forward_head(maps, pre_logits=True)
        return self.classifier(self.dropout(features)).view(batch, clip_len)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.frame_logits(clips).mean(dim=1)
