"""A timm EfficientNet to run stage by stage, for detectors that read or change the features
between its stages (SIA, multi-attention, LRL)."""

from __future__ import annotations

import torch
from torch import nn

from dfd.models.backbones import create_timm

STAGES = 7  # EfficientNet's stages of blocks, all of which these detectors may read
DRY_RUN_SIZE = 64


def efficientnet(name: str, pretrained: bool, weights: str | None) -> nn.Module:
    """A timm EfficientNet without its classifier (ImageNet weights, or a local state dict)."""
    model = create_timm(name, pretrained, weights, num_classes=0)
    if not hasattr(model, "blocks") or len(model.blocks) != STAGES:
        raise ValueError(f"{name} is not a timm EfficientNet with seven stages")
    return model


def stage_channels(model: nn.Module) -> list[int]:
    """Each stage's output channels (a dry run in eval mode, the model's mode kept)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        x = model.bn1(model.conv_stem(torch.zeros(1, 3, DRY_RUN_SIZE, DRY_RUN_SIZE)))
        channels = []
        for stage in model.blocks:
            x = stage(x)
            channels.append(x.shape[1])
    model.train(was_training)
    return channels
