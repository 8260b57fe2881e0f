"""Multi-scale feature maps of a timm image model, for detectors that predict maps (a blending
boundary, a reconstruction) rather than only a class."""

from __future__ import annotations

from collections.abc import Sequence

import timm
from torch import nn

from dfd.models.backbones import hub_error
from dfd.models.weights import load_weights


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
    if name not in timm.list_models():
        raise ValueError(f"unknown timm model '{name}' (see timm.list_models())")
    if out_indices is not None:
        model_kwargs["out_indices"] = tuple(out_indices)
    try:
        model = timm.create_model(
            name, features_only=True, pretrained=pretrained and not weights, **model_kwargs
        )
    except (OSError, RuntimeError) as error:
        if pretrained and not weights:
            raise hub_error(name, error) from error
        raise
    if weights:
        load_weights(model, weights, name=f"timm '{name}' features")
    return model
