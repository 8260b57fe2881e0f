"""Read only the sampled frames of a video with decord (RGB uint8)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import decord
import numpy as np


class VideoReadError(RuntimeError):
    """The video could not be opened or decoded."""


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about an opened video."""

    num_frames: int
    fps: float
    width: int
    height: int


def open_video(path: str | Path) -> tuple[decord.VideoReader, VideoInfo]:
    """Open a video on the CPU; raise :class:`VideoReadError` when decord cannot read it."""
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        num_frames = len(reader)
        fps = float(reader.get_avg_fps()) if num_frames else 0.0
        height, width = _to_numpy(reader[0]).shape[:2] if num_frames else (0, 0)
    except Exception as error:  # decord raises its own DECORDError and plain RuntimeErrors
        raise VideoReadError(f"{type(error).__name__}: {_first_line(error)}") from error
    return reader, VideoInfo(num_frames=num_frames, fps=fps, width=int(width), height=int(height))


def sample_indices(
    total: int, num_frames: int, video_fps: float = 0.0, fps: float | None = None, max_frames: int = 64
) -> list[int]:
    """Frame numbers to read: ``num_frames`` evenly spaced over the video, or every 1/``fps`` s.

    Evenly spaced frames sit at the centres of equal segments; with fewer frames in the video
    than asked, every frame is used. In fps mode the count is capped by ``max_frames``.
    """
    if total <= 0:
        return []
    if fps:
        step = video_fps / fps if video_fps > 0 else 1.0
        positions = np.arange(0.0, total, max(step, 1.0))[:max_frames]
        return sorted({min(int(round(p)), total - 1) for p in positions})
    count = min(num_frames, total)
    return [int((i + 0.5) * total / count) for i in range(count)]


def read_frames(reader: decord.VideoReader, indices: list[int]) -> np.ndarray:
    """Decode only the given frames as an (N, H, W, 3) RGB uint8 array."""
    try:
        return _to_numpy(reader.get_batch(indices))
    except Exception as error:
        raise VideoReadError(f"{type(error).__name__}: {_first_line(error)}") from error


def _to_numpy(batch: object) -> np.ndarray:
    """decord returns its own arrays, or torch tensors when another module set the torch bridge."""
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else ""
