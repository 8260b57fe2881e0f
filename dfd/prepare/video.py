"""Open any video file safely and read only the sampled frames, upright, as RGB uint8.

A file is first probed with PyAV, which reports bad input as Python exceptions, so that
empty, non-media, audio-only, truncated and frameless files are told apart before a decoder
ever sees them. Every such failure is a :class:`VideoReadError` with a short ``code`` for
the manifest and the detail in its message. A decoder of :mod:`dfd.prepare.decoders` then
decodes only what the sampled frames need, converts every pixel format (grey included) to
RGB and turns the frames by the container's display matrix (phone videos), so they come
out upright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream

from dfd.prepare.decoders import DECODERS, FrameSource
from dfd.prepare.frame_folder import FrameFolderFrames

EMPTY_FILE = "empty_file"
NO_VIDEO_STREAM = "no_video_stream"
UNREADABLE = "unreadable"
NO_FRAMES = "no_frames"
TIME_TOLERANCE = 5e-4  # seconds; decord's timestamps are float32


class VideoReadError(RuntimeError):
    """A video that cannot give frames: ``code`` says why in one word, ``str(error)`` in detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class VideoInfo:
    """Facts about an opened video; ``width``/``height`` are those of the upright frames."""

    num_frames: int
    fps: float
    width: int
    height: int
    rotation: int  # degrees clockwise that turn the stored frames upright (0, 90, 180, 270)


@dataclass(frozen=True)
class _Probe:
    """What PyAV learnt from the container and the first frame."""

    width: int  # of the stored (not yet rotated) frames
    height: int
    rotation: int


class Video:
    """One opened video: ``info`` is known at once, frames are decoded only by :meth:`read`."""

    def __init__(self, frames: FrameSource, info: VideoInfo) -> None:
        self._frames = frames
        self.info = info

    def sample(self, num_frames: int, fps: float | None = None, max_frames: int = 64) -> list[int]:
        """Frame numbers to read: ``num_frames`` evenly spaced, or one every 1/``fps`` seconds.

        The fps mode follows the frames' real timestamps, so a variable-frame-rate video is
        sampled by time; it keeps at most ``max_frames`` frames from the start.
        """
        if fps:
            return sample_times(self.timestamps(), fps, max_frames)
        return sample_indices(self.info.num_frames, num_frames)

    def timestamps(self) -> np.ndarray:
        """Every frame's start time (seconds after the first frame), from the container's index:
        nothing is decoded."""
        return self._frames.timestamps()

    def read(self, indices: list[int]) -> np.ndarray:
        """Decode only what the given frames need; they come as an upright (N, H, W, 3) RGB uint8 array."""
        bad = [i for i in indices if not 0 <= i < self.info.num_frames]
        if bad:
            raise IndexError(f"frames {bad[:5]} outside a video of {self.info.num_frames} frames")
        try:
            return self._frames.read(list(indices))
        except Exception as error:  # FFmpegError, decord's DECORDError and plain RuntimeErrors
            raise VideoReadError(
                UNREADABLE, f"decoding frames failed: {_describe(error)}"
            ) from error

    def read_decodable(self, indices: list[int]) -> tuple[np.ndarray, list[int]]:
        """(frames, their indices): the given frames that decode, as :meth:`read` gives them.

        A video whose middle is damaged still gives the frames before and after it: when the
        frames cannot be read together, each is read on its own (from its keyframe) and those
        that fail are left out. It raises the first failure when no frame decodes.
        """
        try:
            return self.read(indices), list(indices)
        except VideoReadError as error:
            failure = error
        frames, kept = [], []
        for index in indices:
            try:
                frames.append(self.read([index])[0])
            except VideoReadError:
                continue
            kept.append(index)
        if not kept:
            raise failure
        return np.stack(frames), kept


def open_video(
    path: str | Path, threads: int = 0, decoder: str = "pyav", folder_fps: float = 25.0
) -> Video:
    """Open a video on the CPU, or raise :class:`VideoReadError` with the reason it cannot be read.

    ``threads`` decoder threads (0: as many as there are cores); ``decoder`` one of
    :data:`dfd.prepare.decoders.DECODERS`. A folder is read as its frames, played at
    ``folder_fps`` (:mod:`dfd.prepare.frame_folder`).
    """
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {sorted(DECODERS)}")
    path = Path(path)
    if path.is_dir():
        return _open_frame_folder(path, folder_fps)
    probe = _probe(path)
    try:
        frames: FrameSource = DECODERS[decoder](path, threads, probe.rotation)
    except Exception as error:
        raise VideoReadError(UNREADABLE, f"{decoder} cannot open it: {_describe(error)}") from error
    if frames.num_frames == 0:
        raise VideoReadError(NO_FRAMES, f"{decoder} finds no frames in the video stream")
    sideways = probe.rotation in (90, 270)
    info = VideoInfo(
        num_frames=frames.num_frames,
        fps=frames.fps,
        width=probe.height if sideways else probe.width,
        height=probe.width if sideways else probe.height,
        rotation=probe.rotation,
    )
    return Video(frames, info)


def _open_frame_folder(folder: Path, fps: float) -> Video:
    frames = FrameFolderFrames(folder, fps)
    if frames.num_frames == 0:
        raise VideoReadError(NO_FRAMES, "the folder holds no image file")
    try:
        width, height = frames.first_size()
    except (ValueError, OSError) as error:
        raise VideoReadError(UNREADABLE, f"first frame: {_describe(error)}") from error
    return Video(frames, VideoInfo(frames.num_frames, fps, width, height, rotation=0))


def sample_indices(total: int, num_frames: int) -> list[int]:
    """``num_frames`` frame numbers at the centres of equal segments; every frame if fewer exist."""
    count = min(num_frames, total)
    return [int((i + 0.5) * total / count) for i in range(count)] if count > 0 else []


def sample_times(timestamps: np.ndarray, fps: float, max_frames: int) -> list[int]:
    """The frame on screen every 1/``fps`` seconds (from the first frame), the first ``max_frames``.

    ``timestamps`` are the frames' start times in seconds, in presentation order.
    """
    if len(timestamps) == 0 or fps <= 0:
        return []
    start, end = float(timestamps[0]), float(timestamps[-1])
    ticks = start + np.arange(int((end - start + TIME_TOLERANCE) * fps) + 1) / fps
    on_screen = np.searchsorted(timestamps, ticks + TIME_TOLERANCE, side="right") - 1
    return sorted({int(i) for i in on_screen})[:max_frames]


def _probe(path: Path) -> _Probe:
    """Check the file with PyAV and decode its first frame (for the size and the rotation)."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise VideoReadError(
            UNREADABLE, f"cannot access the file: {error.strerror or error}"
        ) from error
    if size == 0:
        raise VideoReadError(EMPTY_FILE, "the file has 0 bytes")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = sorted({stream.type for stream in container.streams}) or ["none"]
                raise VideoReadError(
                    NO_VIDEO_STREAM, f"the file has no video stream (streams: {', '.join(kinds)})"
                )
            stream = container.streams.video[0]
            _check_complete(stream, size)
            first = next(container.decode(stream), None)
    except (av.FFmpegError, OSError, ValueError) as error:  # a VideoReadError passes through
        raise VideoReadError(
            UNREADABLE, f"not a readable media file: {_describe(error)}"
        ) from error
    if first is None:
        raise VideoReadError(NO_FRAMES, "the video stream has no decodable frame")
    return _Probe(width=first.width, height=first.height, rotation=_clockwise(first.rotation))


def _check_complete(stream: VideoStream, size: int) -> None:
    """A truncated file whose index survived (index at the start) still lists the lost frames."""
    ends = [entry.pos + entry.size for entry in stream.index_entries if entry.pos >= 0]
    missing = sum(end > size for end in ends)
    if missing:
        raise VideoReadError(
            UNREADABLE,
            f"truncated: {missing} of {len(ends)} frames lie beyond the end of the file "
            f"({size} bytes, the index needs {max(ends)})",
        )


def _clockwise(counter_clockwise: float) -> int:
    """PyAV gives the display matrix's rotation counter-clockwise; return it clockwise, snapped to 90."""
    return int(round(-counter_clockwise / 90.0)) % 4 * 90


def _describe(error: BaseException) -> str:
    """The error type and its message's first line, without file names or decord's ``[time] file.cc:42:``."""
    lines = (getattr(error, "strerror", None) or str(error)).strip().splitlines()
    text = re.sub(r"^(\[[\d:]+\] \S+:\d+: )+", "", lines[0]) if lines else ""
    return f"{type(error).__name__}: {text[:200]}"
