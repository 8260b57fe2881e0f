"""One video in, its face clips (or one skip with a reason) out, with its record written.

This is the unit of work of a preparation run, the same in the main process and in worker
processes. Any failure becomes a ``skipped`` row with a reason code; nothing escapes.
"""

from __future__ import annotations

import glob
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from dfd.datasets.manifest import STATUS_OK, STATUS_SKIPPED, join_list
from dfd.datasets.media import is_named_video
from dfd.prepare.crops import crop_square, save_rgb_jpeg
from dfd.prepare.detectors import Detections, FaceDetector, searched_frames
from dfd.prepare.records import record_path, source_stamp, write_record
from dfd.prepare.settings import PrepareSettings
from dfd.prepare.tracking import FaceTrack, find_tracks
from dfd.prepare.video import UNREADABLE, Video, VideoInfo, VideoReadError, open_video

log = logging.getLogger(__name__)
FACES_DIR = "faces"
PARTIAL_SUFFIX = ".partial"
NOTE_SEP = "; "  # between the notes of a clip (what it lacks: frames that did not decode, ...)


class SkipVideo(Exception):
    """A video that gives no clip; ``reason`` is the manifest's reason text (code first)."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.reason = f"{code}: {detail}" if detail else code
        super().__init__(self.reason)


def prepare_video(
    path: Path,
    video_id: str,
    prepared_dir: Path,
    settings: PrepareSettings,
    detector: Callable[[], FaceDetector],
    decode_threads: int = 0,
) -> list[dict[str, object]]:
    """Prepare one video and record it; returns one result dict per clip (or one skip)."""
    info: VideoInfo | None = None
    try:
        if not is_named_video(path):
            raise SkipVideo("missing_file")
        video = open_video(
            path,
            threads=decode_threads,
            decoder=settings.decoder,
            folder_fps=settings.frame_folder_fps,
        )
        info = video.info
        clips = _extract(video, video_id, prepared_dir, settings, detector)
    except VideoReadError as error:
        clips = [_skipped(video_id, f"{error.code}: {error}", info)]
    except SkipVideo as skip:
        clips = [_skipped(video_id, skip.reason, info)]
    except Exception as error:  # one broken video must never stop the run
        log.exception("error while preparing %s", path)
        clips = [
            _skipped(video_id, f"error: {type(error).__name__}: {_one_line(str(error))}", info)
        ]
    if clips[0]["status"] == STATUS_SKIPPED:
        _remove_clip_dirs(prepared_dir / FACES_DIR, video_id)
    save_record(prepared_dir, path, video_id, settings, clips)
    return clips


def save_record(
    prepared_dir: Path,
    path: Path,
    video_id: str,
    settings: PrepareSettings,
    clips: list[dict[str, object]],
) -> None:
    """Record a finished video: its source stamp, the output settings and its clip rows."""
    write_record(
        record_path(prepared_dir, video_id),
        {
            "video_id": video_id,
            "source_stamp": source_stamp(path),
            "settings": settings.output_fingerprint(),
            "clips": clips,
        },
    )


def skipped_clip(video_id: str, reason: str) -> dict[str, object]:
    """The single result row of a video that gave no clip."""
    return _skipped(video_id, reason, None)


def _extract(
    video: Video,
    video_id: str,
    prepared_dir: Path,
    settings: PrepareSettings,
    detector: Callable[[], FaceDetector],
) -> list[dict[str, object]]:
    indices = video.sample(settings.num_frames, settings.fps, settings.max_frames)
    if not indices:
        raise SkipVideo("no_frames")
    sampled = len(indices)
    per_chunk = frames_per_chunk(video.info, settings.frame_memory_mb)
    frames = None  # more than fit in memory: read twice, in chunks
    if len(indices) <= per_chunk:
        frames, indices = video.read_decodable(indices)
    detections, decoded = _detect(video, indices, frames, per_chunk, settings, detector())
    if not decoded:
        raise SkipVideo(UNREADABLE, "no sampled frame decodes")
    indices = [indices[position] for position in decoded]
    tracks = _tracks([detections[position] for position in decoded], indices, settings)
    notes = []
    if len(indices) < sampled:
        notes.append(f"{sampled - len(indices)} of {sampled} sampled frames did not decode")
    faces_in = [f"{int(t.detected.sum())} of {int(t.searched.sum())} frames" for t in tracks]
    if len(tracks) == 1 and tracks[0].detected_fraction < settings.min_track_fraction:
        keep = tracks[0].showing_face()  # a face in part of the video: only where it shows
        indices = [index for index, kept in zip(indices, keep) if kept]
        frames = frames[keep] if frames is not None else None
        tracks = [tracks[0].only(keep)]
        notes.append(f"a face in {faces_in[0]}: only the {len(indices)} showing it are used")
    faces_dir = prepared_dir / FACES_DIR
    _remove_clip_dirs(faces_dir, video_id)
    names = [f"{index:06d}.jpg" for index in indices]
    clip_ids = [
        video_id if settings.faces == "largest" else f"{video_id}#{face}"
        for face in range(len(tracks))
    ]
    _write_crops(
        _chunks(video, indices, frames, per_chunk),
        tracks,
        names,
        [faces_dir / clip_id for clip_id in clip_ids],
        settings,
    )
    return [
        {
            "clip_id": clip_id,
            "face": face,
            "status": STATUS_OK,
            "reason": "",
            "num_frames": len(indices),
            "frame_paths": join_list(f"{FACES_DIR}/{clip_id}/{name}" for name in names),
            "frame_indices": join_list(indices),
            "det_scores": join_list(f"{s:.4f}" for s in track.scores),
            "boxes": join_list(" ".join(f"{value:.1f}" for value in box) for box in track.boxes),
            **_video_facts(video.info),
            "faces_in": faces_in[face],
            "notes": NOTE_SEP.join(notes),
        }
        for face, (clip_id, track) in enumerate(zip(clip_ids, tracks))
    ]


def frames_per_chunk(info: VideoInfo, memory_mb: int) -> int:
    """How many decoded frames of this video fit in ``memory_mb`` MiB (at least one)."""
    return max(1, memory_mb * 2**20 // max(1, info.width * info.height * 3))


def _detect(
    video: Video,
    indices: list[int],
    frames: np.ndarray | None,
    per_chunk: int,
    settings: PrepareSettings,
    detector: FaceDetector,
) -> tuple[list[Detections | None], list[int]]:
    """Faces in every ``detect_every``-th sampled frame (None for the others), and the positions
    of the frames that decode. Without ``frames`` in memory, every sampled frame is read
    ``per_chunk`` at a time (the searched ones to find faces, the others to know they decode
    before their crops are written) and those that do not decode are left out."""
    detections: list[Detections | None] = [None] * len(indices)
    searched = {int(p) for p in searched_frames(len(indices), settings.detect_every)}
    if frames is not None:
        positions = sorted(searched)
        for position, found in zip(positions, detector.detect([frames[p] for p in positions])):
            detections[position] = found
        return detections, list(range(len(indices)))
    lost: set[int] = set()
    for start in range(0, len(indices), per_chunk):
        chunk = list(range(start, min(start + per_chunk, len(indices))))
        try:
            pixels, kept = video.read_decodable([indices[p] for p in chunk])
        except VideoReadError:
            pixels, kept = [], []
        decoded = dict(zip(kept, pixels))
        lost.update(p for p in chunk if indices[p] not in decoded)
        positions = [p for p in chunk if p in searched and indices[p] in decoded]
        for position, found in zip(
            positions, detector.detect([decoded[indices[p]] for p in positions])
        ):
            detections[position] = found
    return detections, [p for p in range(len(indices)) if p not in lost]


def _tracks(
    detections: list[Detections | None], indices: list[int], settings: PrepareSettings
) -> list[FaceTrack]:
    """Face tracks through the detections of the sampled frames. When no track is seen in
    ``min_track_fraction`` of the searched frames, the strongest one seen in at least
    ``min_face_frames`` of them is returned alone (a face in part of the video)."""
    tracks = find_tracks(
        detections,
        indices,
        max_tracks=settings.max_faces,
        min_detected_fraction=settings.min_track_fraction,
        smooth_window=settings.smooth_window,
    )
    if tracks:
        return tracks[:1] if settings.faces == "largest" else tracks
    partial = find_tracks(detections, indices, smooth_window=settings.smooth_window)
    if partial and partial[0].detected.sum() >= settings.min_face_frames:
        return partial  # the strongest face, seen in part of the video only
    hits = sum(1 for found in detections if found is not None and len(found))
    searched_count = sum(1 for found in detections if found is not None)
    raise SkipVideo(
        "no_face", f"a face in {hits} of {searched_count} searched frames" if hits else ""
    )


def _chunks(
    video: Video, indices: list[int], frames: np.ndarray | None, per_chunk: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(position of the first, frames) for all sampled frames: those in memory, or read again in chunks."""
    if frames is not None:
        yield 0, frames
        return
    for start in range(0, len(indices), per_chunk):
        yield start, video.read(indices[start : start + per_chunk])


def _write_crops(
    chunks: Iterator[tuple[int, np.ndarray]],
    tracks: list[FaceTrack],
    names: list[str],
    clip_dirs: list[Path],
    settings: PrepareSettings,
) -> None:
    """Crops go to temporary folders that are renamed into place once complete."""
    partials = [clip_dir.with_name(clip_dir.name + PARTIAL_SUFFIX) for clip_dir in clip_dirs]
    for partial in partials:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    for start, frames in chunks:
        for track, partial in zip(tracks, partials):
            for position, frame in enumerate(frames, start):
                crop = crop_square(
                    frame, track.boxes[position], settings.margin, settings.face_size
                )
                save_rgb_jpeg(crop, partial / names[position])
    for partial, clip_dir in zip(partials, clip_dirs):
        partial.rename(clip_dir)


def _remove_clip_dirs(faces_dir: Path, video_id: str) -> None:
    """Delete a video's clip folders of an earlier run (one per face, and any half-written one)."""
    target = faces_dir / video_id
    if not target.parent.is_dir():
        return
    for folder in target.parent.glob(f"{glob.escape(target.name)}*"):
        rest = folder.name[len(target.name) :]
        if rest in ("", PARTIAL_SUFFIX) or rest.startswith("#"):
            shutil.rmtree(folder, ignore_errors=True)


def _video_facts(info: VideoInfo | None) -> dict[str, object]:
    return {
        "fps": info.fps if info else 0.0,
        "width": info.width if info else 0,
        "height": info.height if info else 0,
    }


def _skipped(video_id: str, reason: str, info: VideoInfo | None) -> dict[str, object]:
    return {
        "clip_id": video_id,
        "face": 0,
        "status": STATUS_SKIPPED,
        "reason": reason,
        "num_frames": 0,
        "frame_paths": "",
        "frame_indices": "",
        "det_scores": "",
        "boxes": "",
        **_video_facts(info),
        "faces_in": "",
        "notes": "",
    }


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else ""
