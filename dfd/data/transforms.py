"""Albumentations pipelines for face clips: one random draw per clip, applied to every frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
import numpy as np
import torch
from hydra.utils import instantiate

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_clip_transform(
    image_size: int,
    augment: Sequence[Mapping[str, Any]] | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Resize, then the configured augmentations (each a `_target_` config), then normalize."""
    steps = [A.Resize(image_size, image_size)]
    steps += [instantiate(step) for step in (augment or [])]
    steps.append(A.Normalize(mean=tuple(mean), std=tuple(std)))
    return A.Compose(steps)


def apply_to_clip(transform: A.Compose, frames: np.ndarray, seed: int | None) -> torch.Tensor:
    """Transform a (T, H, W, 3) uint8 RGB clip with one parameter draw; return (T, 3, H, W).

    `seed` fixes the draw (one augmentation seed per clip), so a clip is reproducible and
    every frame of it gets exactly the same crop, flip, colour change and compression.
    """
    if seed is not None:
        transform.set_random_seed(seed)
    out = transform(images=frames)["images"]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2)
