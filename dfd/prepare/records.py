"""One small JSON record per finished video: the durable state of a preparation run.

A record is written (atomically) only after the video's face folders are in place, so a run
killed at any moment leaves either a complete video with its record or no record at all. A
rerun reuses a video when its record matches the source file and the output settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dfd.datasets.media import frame_files

RECORDS_DIR = "records"


def record_path(prepared_dir: Path, video_id: str) -> Path:
    """Where the record of ``video_id`` lives (video ids may contain ``/``)."""
    return prepared_dir / RECORDS_DIR / f"{video_id}.json"


def source_stamp(path: Path) -> list[int] | None:
    """Size and modification time of a source video (of a frame folder: its frames' total size
    and newest time); None when it does not exist."""
    try:
        if path.is_dir():
            stats = [frame.stat() for frame in frame_files(path)]
            return [sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)]
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def write_record(path: Path, record: dict[str, object]) -> None:
    """Write a record atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(record))
    os.replace(partial, path)


def read_record(path: Path) -> dict[str, object] | None:
    """A record, or None when it is missing or unreadable (then the video is simply redone)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
