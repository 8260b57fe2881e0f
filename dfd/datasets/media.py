"""What counts as a video: a video file, or a folder of frames.

WildDeepfake, DF40 and DeepfakeBench's preprocessed sets are distributed as one folder of
images per video, so every part of dfd that looks for videos (dataset readers, preparation,
`dfd predict`) takes such a folder as one video: a folder that directly holds image files and
no video file. Its frames are its images in natural order (`2.png` before `10.png`).
"""

from __future__ import annotations

import re
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
_DIGITS = re.compile(r"(\d+)")


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()


def frame_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, in natural order (numbers compared as numbers)."""
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(images, key=_natural_key)


def is_frame_folder(path: Path) -> bool:
    """A folder that directly holds images and no video file: one video given as its frames."""
    if not path.is_dir():
        return False
    entries = list(path.iterdir())
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in entries) and not any(
        p.suffix.lower() in VIDEO_SUFFIXES for p in entries
    )


def is_named_video(path: Path) -> bool:
    """A path given as a video (a label row, a job): any file, whatever its suffix (an upload is
    probed, not judged by its name), or a frame folder."""
    return path.is_file() or is_frame_folder(path)


def media_under(folder: Path) -> list[Path]:
    """Every video file and frame folder under `folder` (itself included), sorted."""
    if is_frame_folder(folder):
        return [folder]
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            found.extend(media_under(entry))
        elif is_video_file(entry):
            found.append(entry)
    return found


def require_folder(folder: Path, what: str) -> None:
    """Fail in one line when a folder a reader needs is not there."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} not found: {folder}")


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(path.name)]
