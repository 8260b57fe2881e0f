"""Albumentations pipelines for face clips (one random draw per clip) and their normalization.

Workers hand out uint8 clips: a quarter of the bytes of float ones to pass between processes,
and no per-pixel float work on the CPU. `normalize_clips` turns them into the model's input
on the device, after the batch is moved there (`FaceClipDataModule.on_after_batch_transfer`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
import numpy as np
import torch
from hydra.utils import instantiate

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_clip_transform(
    image_size: int, augment: Sequence[Mapping[str, Any]] | None = None
) -> A.Compose:
    """Resize, then the configured augmentations (each a `_target_` config); uint8 in and out."""
    steps = [A.Resize(image_size, image_size)]
    steps += [instantiate(step) for step in (augment or [])]
    return A.Compose(steps)


def apply_to_clip(transform: A.Compose, frames: np.ndarray, seed: int | None) -> torch.Tensor:
    """Transform a (T, H, W, 3) uint8 RGB clip with one parameter draw; return (T, 3, H, W) uint8.

    `seed` fixes the draw (one augmentation seed per clip), so a clip is reproducible and
    every frame of it gets exactly the same crop, flip, colour change and compression. The
    steps share one generator made from it (albumentations' `set_random_seed` makes two per
    step, a tenth of a millisecond a clip).
    """
    if seed is not None:
        transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    out = transform(images=frames)["images"]
    return torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2)


def apply_to_clip_and_mask(
    transform: A.Compose, frames: np.ndarray, mask: np.ndarray, seed: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """`apply_to_clip`, with an (H, W) float mask in [0, 1] taken through the same draw: the
    clip's spatial steps (resize, flip, affine) move it, pixel-only steps leave it. Returns the
    (T, 3, H, W) clip and the (T, 1, H, W) mask, both uint8 (the mask scaled to 0..255: a
    quarter of the bytes between processes; `unit_masks` turns it back on the device)."""
    if seed is not None:
        transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    out = transform(images=frames, mask=mask[..., None])
    clip = torch.from_numpy(np.ascontiguousarray(out["images"])).permute(0, 3, 1, 2)
    moved = np.clip(np.rint(out["mask"][..., 0] * 255.0), 0, 255).astype(np.uint8)
    return clip, torch.from_numpy(moved)[None, None].expand(len(clip), 1, *moved.shape)


def unit_masks(masks: torch.Tensor) -> torch.Tensor:
    """uint8 masks (..., 1, H, W) from the loaders -> float32 in [0, 1], on their device."""
    return masks.float().div_(255.0)


def normalize_clips(
    clips: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """uint8 clips (..., 3, H, W) -> float32 `(x / 255 - mean) / std`, on the clips' device."""
    if clips.dtype != torch.uint8:
        raise TypeError(f"normalize_clips expects uint8 clips, got {clips.dtype}")
    std_t = torch.tensor(std, dtype=torch.float32, device=clips.device).reshape(3, 1, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=clips.device).reshape(3, 1, 1)
    scale = 1.0 / (255.0 * std_t)
    return clips.float().mul_(scale).sub_(mean_t / std_t)
