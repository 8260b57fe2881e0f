"""A 3D bottleneck ResNet whose kernels are stated per axis: I3D's inflated ResNet-50 (temporal
kernels of 5 in the stem and 3 or 1 in each block, spatial 3 x 3) and FTCN's temporal-only
variant (every spatial kernel 1) are the same network with different kernel sizes.

Each block: a (kt x 1 x 1) reduction, a (1 x ks x ks) convolution carrying the stage's spatial
stride, a 1 x 1 x 1 expansion (4x), batch norms and a projected shortcut where shapes change,
the layout of the SlowFast codebase's I3D-R50 (Feichtenhofer et al.), which DeepfakeBench's
I3D, FTCN and AltFreezing load. Layer names follow torchvision's ResNet (conv1, bn1,
layer1..4, conv1..3, downsample), so a 2D ResNet-50's ImageNet weights inflate into it
(`inflate_2d`). No temporal downsampling: T frames give T feature frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

# temporal kernel of each block's first convolution, per stage: SlowFast's I3D-R50 basis
I3D_TEMPORAL_KERNELS: tuple[tuple[int, ...], ...] = ((3,), (3, 1), (3, 1), (1, 3))
RESNET50_DEPTHS = (3, 4, 6, 3)


def block_kernels(depths: Sequence[int], basis: Sequence[Sequence[int]]) -> list[list[int]]:
    """Each block's temporal kernel: the stage's basis repeated over its blocks."""
    return [[stage[i % len(stage)] for i in range(depth)] for depth, stage in zip(depths, basis)]


class Bottleneck3d(nn.Module):
    """(kt,1,1) reduce -> (1,ks,ks) with the spatial stride -> (1,1,1) expand, plus shortcut."""

    expansion = 4

    def __init__(self, inputs: int, width: int, kt: int, ks: int, stride: int) -> None:
        super().__init__()
        outputs = width * self.expansion
        self.conv1 = nn.Conv3d(inputs, width, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(
            width, width, (1, ks, ks), (1, stride, stride), (0, ks // 2, ks // 2), bias=False
        )
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, outputs, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(outputs)
        nn.init.zeros_(self.bn3.weight)  # each block starts as the identity
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(
                nn.Conv3d(inputs, outputs, 1, (1, stride, stride), bias=False),
                nn.BatchNorm3d(outputs),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet3d(nn.Module):
    """A bottleneck 3D ResNet: clips (B, C, T, H, W) in, feature maps (B, F, T, H/32, W/32) out.

    `spatial_kernel` is every spatial kernel (stem: 7 where it is 3, pooling too); 1 makes the
    network temporal-only (FTCN). `stem_temporal_kernel` and `temporal_kernels` (one basis per
    stage) set the temporal kernels."""

    def __init__(
        self,
        depths: Sequence[int] = RESNET50_DEPTHS,
        width: int = 64,
        spatial_kernel: int = 3,
        stem_temporal_kernel: int = 5,
        temporal_kernels: Sequence[Sequence[int]] = I3D_TEMPORAL_KERNELS,
    ) -> None:
        super().__init__()
        ks, stem_ks = spatial_kernel, 7 if spatial_kernel == 3 else spatial_kernel
        kt = stem_temporal_kernel
        self.conv1 = nn.Conv3d(
            3, width, (kt, stem_ks, stem_ks), (1, 2, 2), (kt // 2, stem_ks // 2, stem_ks // 2),
            bias=False,
        )  # fmt: skip
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, ks, ks), (1, 2, 2), (0, ks // 2, ks // 2))
        channels, stages = width, []
        for index, kernels in enumerate(block_kernels(depths, temporal_kernels)):
            stage_width = width * 2**index
            blocks = []
            for block, block_kt in enumerate(kernels):
                stride = 2 if block == 0 and index > 0 else 1
                blocks.append(Bottleneck3d(channels, stage_width, block_kt, ks, stride))
                channels = stage_width * Bottleneck3d.expansion
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.ModuleList(stages)
        self.num_features = channels

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(clips))))
        for stage in self.layers:
            x = stage(x)
        return x


def inflate_2d(state: Mapping[str, torch.Tensor], model: ResNet3d) -> dict[str, torch.Tensor]:
    """A 2D ResNet's state dict (torchvision names: layer1.0.conv1...) as the 3D one's, each
    kernel repeated over time and divided by its length (I3D's inflation: a still clip gives
    the 2D network's activations); its classifier (fc) is left out."""
    own = model.state_dict()
    inflated = {}
    for name, value in state.items():
        if name.startswith("fc."):
            continue
        target = name
        if name.startswith("layer"):  # layer1.0.conv1 -> layers.0.0.conv1
            stage, rest = name.removeprefix("layer").split(".", 1)
            target = f"layers.{int(stage) - 1}.{rest}"
        if target in own and value.dim() == 4:
            kt, kh, kw = own[target].shape[2:]
            if (kh, kw) != tuple(value.shape[2:]):
                raise ValueError(f"{name}: a {tuple(value.shape[2:])} kernel, not ({kh}, {kw})")
            value = value.unsqueeze(2).repeat(1, 1, kt, 1, 1) / kt
        inflated[target] = value
    return inflated
