"""dfd.data.framewise: albumentations' Affine and HorizontalFlip run frame by frame give the
very pixels albumentations gives a whole clip, with one draw per clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfd.data.dataset import read_rgb
from dfd.data.transforms import apply_to_clip, build_clip_transform
from dfd.datasets.manifest import frame_paths, ok_rows, read_manifest

AFFINE = {"scale": [0.9, 1.1], "translate_percent": [-0.05, 0.05], "rotate": [-10, 10], "p": 1.0}
STEPS = {"Affine": AFFINE, "HorizontalFlip": {"p": 1.0}}


def real_clip(manifest: Path) -> np.ndarray:
    """The (T, H, W, 3) uint8 frames of the first training clip of the tiny dataset."""
    row = ok_rows(read_manifest(manifest)).iloc[0]
    return np.stack([read_rgb(path) for path in frame_paths(row, manifest.parent)])


@pytest.mark.parametrize("name", sorted(STEPS))
def test_same_pixels_as_albumentations(tiny_prepared: Path, name: str) -> None:
    frames = real_clip(tiny_prepared)
    ours = build_clip_transform(64, [{"_target_": f"dfd.data.framewise.{name}", **STEPS[name]}])
    theirs = build_clip_transform(64, [{"_target_": f"albumentations.{name}", **STEPS[name]}])
    plain = apply_to_clip(build_clip_transform(64), frames, 0)
    for seed in range(5):
        out = apply_to_clip(ours, frames, seed)
        assert out.dtype == torch.uint8 and out.shape == plain.shape
        assert torch.equal(out, apply_to_clip(theirs, frames, seed))
        assert not torch.equal(out, plain)  # p=1: the step really ran


def test_one_draw_per_clip(tiny_prepared: Path) -> None:
    """Every frame of a clip gets the same warp; another seed gives another warp."""
    frame = real_clip(tiny_prepared)[0]
    clip = np.stack([frame] * 4)
    transform = build_clip_transform(64, [{"_target_": "dfd.data.framewise.Affine", **AFFINE}])
    first = apply_to_clip(transform, clip, 1)
    assert all(torch.equal(first[0], first[t]) for t in range(1, 4))
    assert not torch.equal(first, apply_to_clip(transform, clip, 2))


@pytest.mark.parametrize("channels", [1, 4, 6])
def test_affine_on_other_channel_counts(tiny_prepared: Path, channels: int) -> None:
    """Grey, RGBA and 6-channel frames (beyond what OpenCV warps at once) get albumentations'
    pixels too."""
    frames = real_clip(tiny_prepared)
    frames = np.concatenate([frames, frames], axis=-1)[..., :channels]
    ours = build_clip_transform(64, [{"_target_": "dfd.data.framewise.Affine", **AFFINE}])
    theirs = build_clip_transform(64, [{"_target_": "albumentations.Affine", **AFFINE}])
    for seed in range(3):
        out = apply_to_clip(ours, np.ascontiguousarray(frames), seed)
        assert out.shape[1] == channels
        assert torch.equal(out, apply_to_clip(theirs, np.ascontiguousarray(frames), seed))
