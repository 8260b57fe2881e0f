"""Multi-scale feature maps of a timm image model, for detectors that predict maps (a blending
boundary, a reconstruction) rather than only a class."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from dfd.models.backbones import create_timm


def timm_features(
    name: str,
    pretrained: bool = False,
    weights: str | None = None,
    out_indices: Sequence[int] | None = None,
    **model_kwargs,
) -> nn.Module:
    """timm's `features_only` model `name`: images (N, 3, H, W) -> a list of feature maps, their
    channels and strides in `feature_info`. `pretrained` asks the model hub (online; timm keeps
    the weights the feature model has); `weights` loads a local state dict of this feature
    model, strictly (e.g. one saved from a trained detector's encoder)."""
    if out_indices is not None:
        model_kwargs["out_indices"] = tuple(out_indices)
    return create_timm(name, pretrained, weights, drop=(), features_only=True, **model_kwargs)
