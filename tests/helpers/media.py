"""Real media files for every kind of bad or unusual video input, written with PyAV.

Each maker writes one file into a given folder and returns its path. Frames that should be
readable show a real face photo, so a preparation run can find a face in them, and carry a
grey marker square (top left) whose brightness tells which frame was decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange
from PIL import Image

from dfd.demo.media import fetch_media

MARKER = 16  # side of the frame-number square, pixels
MARKER_PERIOD = 12  # markers tell frame numbers apart modulo this
PORTRAIT_SIZE = (640, 360)  # (height, width) of the upright phone frames
VFR_PTS_MS = (0, 40, 80, 500, 520, 1500, 1510, 1520, 3000, 3040)  # irregular frame times


@lru_cache(maxsize=1)
def face_photo() -> np.ndarray:
    """A real portrait photo (RGB uint8, even height and width)."""
    with Image.open(fetch_media(["photo_single_face"])["photo_single_face"]) as image:
        rgb = np.asarray(image.convert("RGB"))
    return rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]


def marker_value(index: int) -> int:
    """The brightness of frame ``index``'s marker square."""
    return 20 + 20 * (index % MARKER_PERIOD)


def read_marker(frame: np.ndarray) -> int:
    """The frame number (modulo :data:`MARKER_PERIOD`) shown by a decoded frame's marker square."""
    return int(round((frame[2 : MARKER - 2, 2 : MARKER - 2].mean() - 20) / 20))


def face_frames(
    count: int, canvas: tuple[int, int] | None = None, scale: float = 1.0
) -> np.ndarray:
    """``count`` frames of the face photo (scaled, centred on a green ``canvas`` if given), with markers."""
    face = face_photo()
    if scale != 1.0:
        size = (int(face.shape[1] * scale) // 2 * 2, int(face.shape[0] * scale) // 2 * 2)
        face = np.asarray(Image.fromarray(face).resize(size, Image.Resampling.BILINEAR))
    height, width = canvas or face.shape[:2]
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:] = (40, 120, 40)
    top, left = (height - face.shape[0]) // 2, (width - face.shape[1]) // 2
    frame[top : top + face.shape[0], left : left + face.shape[1]] = face
    frames = np.repeat(frame[None], count, axis=0)
    for index in range(count):
        frames[index, :MARKER, :MARKER] = marker_value(index)
    return frames


def write_h264(
    path: Path,
    frames: np.ndarray,
    *,
    pix_fmt: str = "yuv420p",
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 25),
    rotation: int = 0,
    index_first: bool = False,
    x264: dict[str, str] | None = None,
    container_format: str | None = None,
) -> Path:
    """Encode RGB (T, H, W, 3) or grey (T, H, W) frames to H.264 MP4.

    ``pts`` are frame times in ``time_base`` units (default: 0, 1, 2, ...). ``rotation`` is
    the clockwise turn a player applies (the display matrix). ``index_first`` puts the
    index (moov box) before the frame data, as web videos do. ``x264`` encoder options
    replace the fast default (no B-frames); ``container_format`` overrides the one the file
    name implies.
    """
    options = {"movflags": "faststart"} if index_first else {}
    with av.open(str(path), mode="w", format=container_format, options=options) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        if pix_fmt == "gray":  # grey frames are full range: say so, or decoders stretch them
            stream.codec_context.color_range = ColorRange.JPEG
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = x264 or {"preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes it counter-clockwise
        pixel_format = "gray" if frames.ndim == 3 else "rgb24"
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=pixel_format)
            frame.pts = pts[index] if pts else index
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def frame_folder(folder: Path, count: int = 12, suffix: str = ".png") -> Path:
    """A video given as its frames: ``1.png`` ... ``<count>.png`` (numbered without padding, so
    only a natural sort keeps them in order) of the face photo with markers; the last frame is
    a quarter larger, as per-frame face crops can be."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = face_frames(count)
    for index, frame in enumerate(frames):
        image = Image.fromarray(frame)
        if index == count - 1:
            image = image.resize((frame.shape[1] * 5 // 4, frame.shape[0] * 5 // 4))
        image.save(folder / f"{index + 1}{suffix}")
    return folder


def empty_file(folder: Path) -> Path:
    """A zero-byte ``.mp4``."""
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    return path


def text_file(folder: Path) -> Path:
    """A text file named ``.mp4``."""
    path = folder / "text.mp4"
    path.write_text("this is a note, not a video\n" * 20)
    return path


def truncated_video(folder: Path, index_first: bool = True) -> Path:
    """A real H.264 MP4 (50 frames) cut to half its bytes, as an interrupted download leaves it."""
    name = "truncated_index_first" if index_first else "truncated_index_last"
    whole = write_h264(folder / f"{name}.whole.mp4", face_frames(50), index_first=index_first)
    data = whole.read_bytes()
    whole.unlink()
    path = folder / f"{name}.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def audio_only(folder: Path) -> Path:
    """An ``.mp4`` with one AAC audio stream (a second of a 440 Hz tone) and no video."""
    path = folder / "audio_only.mp4"
    rate, samples = 44100, 1024
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        for start in range(0, rate, samples):
            tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(start, start + samples) / rate)
            frame = av.AudioFrame.from_ndarray(
                tone[None].astype(np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def zero_frame_video(folder: Path) -> Path:
    """A container with an H.264 video stream that holds no frame (AVI keeps such a stream; MP4 drops it)."""
    path = folder / "zero_frames.mp4"
    with av.open(str(path), mode="w", format="avi") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def short_video(folder: Path) -> Path:
    """A 2-frame face video."""
    return write_h264(folder / "short.mp4", face_frames(2))


def video_4k(folder: Path) -> Path:
    """A 3840x2160, 3-frame face video."""
    return write_h264(folder / "uhd_4k.mp4", face_frames(3, canvas=(2160, 3840), scale=2.0))


def portrait_frames(count: int = 3) -> np.ndarray:
    """The upright frames of the phone video: a face on a 640x360 portrait canvas."""
    return face_frames(count, canvas=PORTRAIT_SIZE, scale=0.6)


def rotated_video(folder: Path, rotation: int = 90) -> Path:
    """A phone video: frames stored turned, with a display matrix that turns them upright.

    The stored frames are the upright ones turned ``rotation`` degrees counter-clockwise, so
    a player turning them ``rotation`` degrees clockwise shows :func:`portrait_frames`.
    """
    stored = np.rot90(portrait_frames(), k=rotation // 90, axes=(1, 2))
    return write_h264(folder / f"rotated_{rotation}.mp4", stored, rotation=rotation)


def vfr_video(folder: Path) -> Path:
    """A variable-frame-rate face video: frames at :data:`VFR_PTS_MS` milliseconds."""
    return write_h264(
        folder / "vfr.mp4",
        face_frames(len(VFR_PTS_MS)),
        pts=list(VFR_PTS_MS),
        time_base=Fraction(1, 1000),
    )


def grayscale_video(folder: Path) -> Path:
    """A grey face video: H.264 with pix_fmt ``gray`` (High profile, 4:0:0, no chroma at all)."""
    grey = face_frames(5).mean(axis=3).round().astype(np.uint8)
    return write_h264(folder / "grayscale.mp4", grey, pix_fmt="gray")


PARTIAL_FACE_FRAMES = 15  # of 40: the face leaves after these; 3 of 8 evenly sampled frames show it
BROKEN_FRAMES = range(15, 25)  # of 40, zeroed: 2 of 8 evenly sampled frames do not decode
KEYFRAME_EVERY = 5


def partial_face_video(folder: Path, until: int = PARTIAL_FACE_FRAMES) -> Path:
    """40 frames: the face photo in the first ``until``, then the empty green canvas (the person
    left)."""
    frames = face_frames(40)
    frames[until:, MARKER:] = (40, 120, 40)
    frames[until:, :, MARKER:] = (40, 120, 40)
    return write_h264(folder / f"partial_face_{until}.mp4", frames)


def broken_middle_video(folder: Path) -> Path:
    """A 40-frame face video (a keyframe every 5) whose frames 15 to 24 are zeroed on disk, as a
    damaged copy has them: the index is whole, the frames before and after decode, these do not."""
    whole = write_h264(
        folder / "broken_middle.whole.mp4",
        face_frames(40),
        x264={"preset": "ultrafast", "x264-params": f"keyint={KEYFRAME_EVERY}:scenecut=0"},
    )
    with av.open(str(whole)) as container:
        stream = container.streams.video[0]
        packets = [(p.pos, p.size) for p in container.demux(stream) if p.size]
    data = bytearray(whole.read_bytes())
    whole.unlink()
    for position, size in (packets[number] for number in BROKEN_FRAMES):
        data[position : position + size] = bytes(size)
    path = folder / "broken_middle.mp4"
    path.write_bytes(bytes(data))
    return path


# name -> (maker, expected manifest status, expected reason code or "" for ok)
CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "empty": (empty_file, "skipped", "empty_file"),
    "text": (text_file, "skipped", "unreadable"),
    "truncated": (truncated_video, "skipped", "unreadable"),
    "audio_only": (audio_only, "skipped", "no_video_stream"),
    "zero_frames": (zero_frame_video, "skipped", "no_frames"),
    "short": (short_video, "ok", ""),
    "uhd_4k": (video_4k, "ok", ""),
    "rotated": (rotated_video, "ok", ""),
    "vfr": (vfr_video, "ok", ""),
    "grayscale": (grayscale_video, "ok", ""),
    "partial_face": (partial_face_video, "ok", ""),
    "broken_middle": (broken_middle_video, "ok", ""),
}


def write_cases(folder: Path) -> dict[str, Path]:
    """Write every case of :data:`CASES` into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: maker(folder) for name, (maker, _, _) in CASES.items()}
