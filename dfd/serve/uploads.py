"""Uploaded videos: copied to disk in chunks under a server-chosen name, size-limited, and
checked to be a video short enough to analyse before any face is looked for."""

from __future__ import annotations

from pathlib import Path

import av
from fastapi import UploadFile

from dfd.serve.errors import ApiError

CHUNK = 1024 * 1024
UPLOAD_NAME = "upload.video"  # never a name or path from the client


async def save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Copy the upload into `folder` chunk by chunk; 413 as soon as it passes `limit` bytes,
    400 when it is empty. The caller removes `folder` whatever happens."""
    target = folder / UPLOAD_NAME
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "too_large", f"the upload is larger than {limit} bytes")
            out.write(chunk)
    if size == 0:
        raise ApiError(400, "empty_upload", "the uploaded file is empty")
    return target


def video_duration(path: Path) -> float | None:
    """Seconds of the first video stream (None when the container does not say); raises
    ApiError 415 when the file is no video FFmpeg can open."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ApiError(415, "not_a_video", "the upload has no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / av.time_base
            return None
    except av.FFmpegError as error:
        # FFmpeg's reason only: its message also names the server-side path
        raise ApiError(
            415, "not_a_video", f"the upload is not a readable video: {error.strerror}"
        ) from error


def check_video(path: Path, max_duration_s: float) -> float | None:
    """The video's duration after making sure it is a video no longer than allowed (422)."""
    duration = video_duration(path)
    if duration is not None and duration > max_duration_s:
        raise ApiError(
            422,
            "too_long",
            f"the video lasts {duration:.1f} s; at most {max_duration_s:g} s are analysed",
        )
    return duration
