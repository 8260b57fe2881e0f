"""Normalized clips of a real face photo, at any size, for detector tests that need no dataset."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dfd.data.transforms import normalize_clips
from helpers.media import face_photo


def face_clips(size: int, clip_len: int = 2, batch: int = 2) -> torch.Tensor:
    """(batch, clip_len, 3, size, size) clips of the real portrait photo, normalized as the
    datamodule normalizes: each frame a slightly different square crop (shifted, mirrored)."""
    photo = face_photo()
    side = min(photo.shape[:2]) * 9 // 10
    frames = []
    for index in range(batch * clip_len):
        shift = 4 * index
        crop = photo[shift : shift + side, shift : shift + side]
        crop = crop[:, ::-1] if index % 2 else crop
        frames.append(np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size, size))))
    clips = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
    return normalize_clips(clips.reshape(batch, clip_len, 3, size, size))
