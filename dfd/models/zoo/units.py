"""A timm CNN cut into units (its stem, then each block) that a detector runs one at a time, so it
can act between them: fuse two streams, apply attention, or stop early (a shallow network).

The cut is read from the model itself: its top-level children that run in order in
`forward_features` (checked by a dry run). The stem is every child before the first block (a
child holding a convolution inside it), then each block with the norms and activations that
follow it. legacy_xception gives 15 units: stem (conv1, conv2), block1..block12 (units 1..12),
conv3, conv4; a ResNet 5: stem, layer1..layer4; an EfficientNet 2: stem, blocks with the head.
"""

from __future__ import annotations

import timm
import torch
from torch import nn

from dfd.models.backbones import create_timm

DRY_RUN_SIZE = 64


def is_block(module: nn.Module) -> bool:
    """A container with a convolution inside it (not a conv, norm or activation itself)."""
    return any(isinstance(m, nn.Conv2d) for name, m in module.named_modules() if name)


def widen_first_conv(model: nn.Module, in_chans: int) -> None:
    """Give the model's first convolution `in_chans` inputs, its RGB kernels repeated and
    rescaled (timm's rule for pretrained weights on other channel counts)."""
    if in_chans == 3:
        return
    path = model.pretrained_cfg["first_conv"]
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = getattr(parent, attr)
    new = nn.Conv2d(
        in_chans,
        old.out_channels,
        old.kernel_size,
        old.stride,
        old.padding,
        old.dilation,
        old.groups,
        old.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(timm.models.adapt_input_conv(in_chans, old.weight))
        if old.bias is not None:
            new.bias.copy_(old.bias)
    setattr(parent, attr, new)


def ordered_children(model: nn.Module, in_chans: int) -> list[nn.Module]:
    """The shortest run of the model's top-level children that, applied in order, computes its
    `forward_features` (a dry run); a model that does not run its children in order is refused."""
    model.eval()
    with torch.no_grad():
        x = torch.randn(1, in_chans, DRY_RUN_SIZE, DRY_RUN_SIZE)
        expected = model.forward_features(x)
        children = []
        for child in model.children():
            x = child(x)
            children.append(child)
            if x.shape == expected.shape and torch.allclose(x, expected):
                model.train()
                return children
    raise ValueError(
        f"{type(model).__name__} does not run its top-level modules in order; "
        "use a CNN such as legacy_xception, resnet18 or efficientnet_b0"
    )


def cut_units(children: list[nn.Module]) -> list[nn.Sequential]:
    """The stem (children before the first block), then one unit per block holding the
    non-block children (norms, activations) that follow it."""
    stem: list[nn.Module] = []
    units: list[list[nn.Module]] = []
    for child in children:
        if is_block(child):
            units.append([child])
        elif units:
            units[-1].append(child)
        else:
            stem.append(child)
    return [nn.Sequential(*unit) for unit in ([stem] if stem else []) + units]


class BackboneUnits(nn.Module):
    """The first `depth` units of a timm CNN, with the channels and stride each one gives."""

    def __init__(
        self,
        name: str,
        in_chans: int = 3,
        depth: int | None = None,
        pretrained: bool = False,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        # an ImageNet RGB file loads as FrameEncoder loads one, then the stem is widened
        model = create_timm(name, pretrained, weights, drop=(), num_classes=0)
        widen_first_conv(model, in_chans)
        units = cut_units(ordered_children(model, in_chans))
        if depth is not None and not 1 <= depth <= len(units):
            raise ValueError(f"{name} has {len(units)} units; depth must be 1..{len(units)}")
        self.units = nn.ModuleList(units[:depth])
        self.channels, self.reductions = self.measure(in_chans)

    def measure(self, in_chans: int) -> tuple[list[int], list[int]]:
        """Channels and stride of every unit's output (a dry run)."""
        channels, reductions = [], []
        was_training = self.training
        self.eval()
        with torch.no_grad():
            x = torch.zeros(1, in_chans, DRY_RUN_SIZE, DRY_RUN_SIZE)
            for unit in self.units:
                x = unit(x)
                channels.append(x.shape[1])
                reductions.append(DRY_RUN_SIZE // x.shape[-1])
        self.train(was_training)
        return channels, reductions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = unit(x)
        return x
