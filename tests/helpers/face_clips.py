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


def face_image(size: int) -> np.ndarray:
    """The real portrait photo, centre-cropped square and resized to `size` (RGB uint8)."""
    photo = face_photo()
    side = min(photo.shape[:2])
    top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
    square = Image.fromarray(photo[top : top + side, left : left + side])
    return np.array(square.resize((size, size), Image.Resampling.BILINEAR))


def face_clip(size: int = 64, frames: int = 2, batch: int = 2) -> torch.Tensor:
    """(batch, frames, 3, size, size) normalized clips of the face, each frame flipped or not so
    the frames differ."""
    image = torch.from_numpy(face_image(size)).permute(2, 0, 1)
    views = [
        image if (b + t) % 2 == 0 else image.flip(-1) for b in range(batch) for t in range(frames)
    ]
    return normalize_clips(torch.stack(views).reshape(batch, frames, 3, size, size))
