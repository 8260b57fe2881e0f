"""A real face as the normalized clip a detector receives, for the zoo's unit tests."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dfd.data.transforms import normalize_clips
from helpers.media import face_photo


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
