"""The last convolutional feature map of an image backbone, found by a dry run: any timm or
torchvision model names its layers its own way, so a frame detector finds its Grad-CAM layer
by watching one forward pass rather than from a table."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

PROBE_SIZE = 224  # image size of the dry run


def last_feature_map(encoder: nn.Module) -> str:
    """Path inside `encoder` of the last module putting out a channels-first feature map
    (N, C, h, w), h, w > 1, found by a dry run on one PROBE_SIZE image. C must be the channel
    count of a conv or batch norm inside the module (which rules out channels-last outputs), and
    no token sequence (N, L, C) may come after it (which rules out a transformer's conv stem).
    The encoder's modes are left as they were."""
    spatial: list[tuple[str, bool]] = []  # (path, is a feature map) of maps and token outputs

    def record(name: str, module: nn.Module, inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor) and output.ndim == 3:
            spatial.append((name, False))
        elif (
            isinstance(output, torch.Tensor)
            and output.ndim == 4
            and min(output.shape[2:]) > 1
            and output.shape[1] in _channel_counts(module)
        ):
            spatial.append((name, True))

    parameter = next(encoder.parameters())
    probe = torch.zeros(
        1, 3, PROBE_SIZE, PROBE_SIZE, device=parameter.device, dtype=parameter.dtype
    )
    handles = [
        module.register_forward_hook(partial(record, name))
        for name, module in encoder.named_modules()
        if name
    ]
    modes = [(module, module.training) for module in encoder.modules()]
    try:
        with torch.no_grad():
            encoder.eval()
            encoder(probe)
    except (RuntimeError, AssertionError) as error:
        raise ValueError(
            f"could not run the backbone on a {PROBE_SIZE} px image to find its "
            f"last feature map ({error})"
        ) from error
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    if not spatial or not spatial[-1][1]:
        raise ValueError(
            f"{type(getattr(encoder, 'model', encoder)).__name__} does not end in a "
            "convolutional feature map (a vision transformer?): Grad-CAM needs one"
        )
    return spatial[-1][0]


def _channel_counts(module: nn.Module) -> set[int]:
    """Output channels of the 2D convs and batch norms in `module` (itself included)."""
    counts = {m.out_channels for m in module.modules() if isinstance(m, nn.Conv2d)}
    return counts | {m.num_features for m in module.modules() if isinstance(m, nn.BatchNorm2d)}
