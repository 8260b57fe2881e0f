"""A folder of frames read like a video (see :mod:`dfd.datasets.media`).

Frame sequences carry no frame rate, so the folder plays at ``prepare.frame_folder_fps``; it
matters only when preparation samples by time (``prepare.fps``). Frames of another size than
the first (some releases crop each frame on its own) are resized to the first's size, so the
clip's frames stack; a frame that does not decode fails only the reads that need it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dfd.datasets.media import frame_files


class FrameFolderFrames:
    """The :class:`~dfd.prepare.decoders.FrameSource` of a frame folder."""

    def __init__(self, folder: Path, fps: float) -> None:
        self._files = frame_files(folder)
        self.num_frames = len(self._files)
        self.fps = float(fps)
        self._size: tuple[int, int] | None = None

    def timestamps(self) -> np.ndarray:
        return np.arange(self.num_frames) / self.fps

    def read(self, indices: list[int]) -> np.ndarray:
        return np.stack([self._frame(index) for index in indices])

    def first_size(self) -> tuple[int, int]:
        """(width, height) of the first frame, which every frame is read at."""
        if self._size is None:
            image = _decode(self._files[0])
            self._size = (image.shape[1], image.shape[0])
        return self._size

    def _frame(self, index: int) -> np.ndarray:
        image = _decode(self._files[index])
        width, height = self.first_size()
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return image


def _decode(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        raise ValueError(f"frame {path.name} is not a readable image")
    return image
