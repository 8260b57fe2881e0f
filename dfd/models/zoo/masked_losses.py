"""Losses over the images whose target is known: a self-blend has a blend mask, a prepared
face swap may not (`mask_valid`), and such an image trains the class only. Face X-ray, FFD, PCL
and LRL share them."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(per_image: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The mean of per-image losses (N,) over the images whose target is `valid` (N,); zero,
    still part of the graph, when none is."""
    weights = valid.to(per_image.dtype)
    return (per_image * weights).sum() / weights.sum().clamp(min=1.0)


def masked_map_loss(
    logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Per-pixel BCE between map logits (N, 1, H, W) and targets in [0, 1], averaged over the
    images whose target is `valid` (N,) (`masked_mean`)."""
    per_image = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2, 3))
    return masked_mean(per_image, valid)
