"""The videos named on a command line: files, folders (searched recursively) and globs.

A file named directly is always tried; folders and glob matches give the files with a video
suffix and the frame folders (:mod:`dfd.datasets.media`: a folder of images is one video).
What names nothing becomes an input with a problem, so it still gets its row.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from dfd.datasets.media import is_video_file, media_under

GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class VideoInput:
    """One video to predict on; `problem` (a reason text, code first) when it cannot be."""

    path: Path
    problem: str = ""


def _expand(argument: str) -> list[VideoInput]:
    path = Path(argument).expanduser()
    if path.is_file():
        return [VideoInput(path)]
    if path.is_dir():
        found = media_under(path)
        return [VideoInput(p) for p in found] or [
            VideoInput(path, "no_videos: the folder holds no video file and no frames")
        ]
    if GLOB_CHARACTERS & set(argument):
        matches = [Path(m) for m in sorted(glob.glob(str(path), recursive=True))]
        found = [
            p
            for m in matches
            for p in (media_under(m) if m.is_dir() else [m])
            if p.is_dir() or is_video_file(p)
        ]
        return [VideoInput(p) for p in found] or [
            VideoInput(path, "missing_file: nothing matches the pattern")
        ]
    return [VideoInput(path, "missing_file: no such file or folder")]


def expand_inputs(arguments: list[str]) -> list[VideoInput]:
    """Every video the arguments name, in order, each file once."""
    seen: set[Path] = set()
    inputs = []
    for argument in arguments:
        for item in _expand(argument):
            key = item.path.resolve()
            if item.problem or key not in seen:
                seen.add(key)
                inputs.append(item)
    return inputs
