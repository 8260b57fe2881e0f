"""Real training batches with a detector's extra targets, as the train task makes them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from dfd.data.datamodule import FaceClipDataModule

# per-pixel colour changes (contrast is not: it uses the image mean) and a flip, which keeps
# the face centred: the real and fake of a pair get the same draw, and targets follow it
FLIP_AND_COLOUR = [
    {"_target_": "albumentations.HorizontalFlip", "p": 0.5},
    {
        "_target_": "albumentations.ColorJitter",
        "brightness": 0.3,
        "contrast": 0.0,
        "saturation": 0.3,
        "hue": 0.05,
        "p": 1.0,
    },
]


def training_batch(
    manifest: Path, targets: Sequence[str], clip_len: int = 2, image_size: int = 64, **settings
) -> dict[str, torch.Tensor]:
    """The first training batch of the tiny data as the module gets it (normalized, masks in
    [0, 1]): real clips beside their self-blends (SBI pairs), 8 clips."""
    dm = FaceClipDataModule(
        str(manifest),
        **{
            "clip_len": clip_len,
            "image_size": image_size,
            "batch_size": 8,
            "num_workers": 0,
            "seed": 0,
            "train_real_only": True,
            "pair_self_blend": True,
            "online_self_blend": 0.0,
            "targets": list(targets),
            **settings,
        },
    )
    dm.setup("fit")
    return first_training_batch(dm)


def first_training_batch(dm: FaceClipDataModule) -> dict[str, torch.Tensor]:
    """A set-up datamodule's first training batch as the module gets it (after transfer)."""
    return dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)


def method_group_datamodule(
    manifest: Path, methods: Sequence[str], **settings
) -> FaceClipDataModule:
    """The tiny data set up in method groups (a real clip, then one prepared fake of each of
    `methods[1:]` from its people), 64 px single frames, two groups a batch."""
    dm = FaceClipDataModule(
        str(manifest),
        **{
            "clip_len": 1,
            "image_size": 64,
            "batch_size": 2 * len(methods),
            "num_workers": 0,
            "seed": 1,
            "targets": ["method"],
            "methods": list(methods),
            "method_groups": True,
            **settings,
        },
    )
    dm.setup("fit")
    return dm
