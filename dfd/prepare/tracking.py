"""Face tracks: the same face followed across the sampled frames of a video.

Detection may run on only some frames (``None`` for the others). A track starts at the
strongest unused detection (confidence times face size) and moves frame by frame, forward
and backward, to the detection that best overlaps its last box. Then the next strongest
unused detection starts the next track, so a video with several people gives several tracks.
Frames without a matched detection get their box and landmarks interpolated in time from
the nearest matched frames, and a score of 0.0, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dfd.prepare.detectors.base import Detections, box_iou

MIN_IOU = 0.2
MAX_CENTRE_SHIFT = 1.0  # in units of the last matched box's larger side
DUPLICATE_IOU = 0.5  # a detection overlapping a track this much is the same face


@dataclass(frozen=True)
class FaceTrack:
    """One box, five landmarks and one detection score per sampled frame."""

    boxes: np.ndarray  # (N, 4) float x1, y1, x2, y2
    points: np.ndarray  # (N, 5, 2)
    scores: np.ndarray  # (N,) 0.0 where the box was interpolated
    searched: np.ndarray  # (N,) bool: detection ran on this frame

    @property
    def detected(self) -> np.ndarray:
        """Frames with a real detection."""
        return self.scores > 0

    @property
    def detected_fraction(self) -> float:
        """Matched detections over frames that were searched."""
        return float(self.detected.sum() / max(int(self.searched.sum()), 1))

    @property
    def face_size(self) -> float:
        """The median side (the larger of width and height) of the detected boxes."""
        boxes = self.boxes[self.detected]
        return float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))

    def showing_face(self) -> np.ndarray:
        """Frames that show the tracked face: detected ones, and those not searched that lie
        between two detections (a searched frame without a match is left out)."""
        hits = np.flatnonzero(self.detected)
        span = np.zeros(len(self.scores), bool)
        if len(hits):
            span[hits[0] : hits[-1] + 1] = True
        return self.detected | (span & ~self.searched)

    def only(self, keep: np.ndarray) -> FaceTrack:
        """The track on the frames where ``keep`` is True."""
        return FaceTrack(
            self.boxes[keep], self.points[keep], self.scores[keep], self.searched[keep]
        )

    def covered(self, max_gap: float, times: Sequence[float]) -> np.ndarray:
        """Frames at most ``max_gap`` (in ``times`` units) from a detection on each side they have one."""
        times = np.asarray(times, dtype=float)
        hits = times[self.detected]
        after = np.searchsorted(hits, times, side="left")
        before_gap = times - hits[np.clip(after - 1, 0, None)]
        after_gap = hits[np.clip(after, None, len(hits) - 1)] - times
        on_hit = np.isin(times, hits)
        inside = (after > 0) & (after < len(hits)) & (before_gap + after_gap <= max_gap)
        start = (after == 0) & (after_gap <= max_gap / 2)
        end = (after == len(hits)) & (before_gap <= max_gap / 2)
        return on_hit | inside | start | end


def find_tracks(
    detections: Sequence[Detections | None],
    times: Sequence[float],
    *,
    max_tracks: int = 1,
    min_detected_fraction: float = 0.0,
    smooth_window: int = 1,
) -> list[FaceTrack]:
    """Face tracks through per-frame detections (``None`` = not searched), largest face first.

    ``times`` are the frames' positions (frame numbers or seconds) used to interpolate. At most
    ``max_tracks`` tracks are built; a track is kept when it was detected in at least
    ``min_detected_fraction`` of the searched frames. ``smooth_window`` > 1 averages boxes and
    landmarks over that many neighbouring frames (for densely sampled frames).
    """
    times = np.asarray(times, dtype=float)
    searched = np.array([found is not None for found in detections])
    frames = [found if found is not None else Detections.empty() for found in detections]
    used = [np.zeros(len(found), bool) for found in frames]
    tracks: list[FaceTrack] = []
    while len(tracks) < max_tracks:
        matched = _grow(frames, used)
        if matched is None:
            break
        track = _as_track(frames, matched, times, searched, smooth_window)
        _mark_duplicates(frames, used, track)
        if track.detected_fraction >= min_detected_fraction:
            tracks.append(track)
    return sorted(tracks, key=lambda track: -track.face_size)


def _strength(found: Detections) -> np.ndarray:
    """Confidence weighted by face size: the main, clearest face scores highest."""
    widths = np.clip(found.boxes[:, 2] - found.boxes[:, 0], 0, None)
    heights = np.clip(found.boxes[:, 3] - found.boxes[:, 1], 0, None)
    return found.scores * np.sqrt(widths * heights)


def _grow(frames: list[Detections], used: list[np.ndarray]) -> list[int | None] | None:
    """Detection index per frame for the next track (marking them used); None when none is left."""
    best, best_value = None, -1.0
    for frame, found in enumerate(frames):
        strengths = np.where(used[frame], -1.0, _strength(found)) if len(found) else np.zeros(0)
        if len(strengths) and strengths.max() > best_value:
            best, best_value = (frame, int(np.argmax(strengths))), float(strengths.max())
    if best is None or best_value < 0:
        return None
    matched: list[int | None] = [None] * len(frames)
    start, first = best
    matched[start] = first
    used[start][first] = True
    for order in (range(start + 1, len(frames)), range(start - 1, -1, -1)):
        last = frames[start].boxes[first]
        for frame in order:
            pick = _match(last, frames[frame], used[frame])
            if pick is not None:
                matched[frame] = pick
                used[frame][pick] = True
                last = frames[frame].boxes[pick]
    return matched


def _match(last: np.ndarray, found: Detections, used: np.ndarray) -> int | None:
    free = np.flatnonzero(~used)
    if not len(free):
        return None
    boxes = found.boxes[free]
    ious = box_iou(last, boxes)
    if ious.max() >= MIN_IOU:
        return int(free[np.argmax(ious)])
    centre = (last[:2] + last[2:]) / 2
    distances = np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - centre, axis=1)
    side = max(last[2] - last[0], last[3] - last[1])
    nearest = int(np.argmin(distances))
    return int(free[nearest]) if distances[nearest] <= MAX_CENTRE_SHIFT * side else None


def _as_track(
    frames: list[Detections],
    matched: list[int | None],
    times: np.ndarray,
    searched: np.ndarray,
    smooth_window: int,
) -> FaceTrack:
    count = len(frames)
    values = np.full((count, 14), np.nan)
    scores = np.zeros(count)
    for frame, pick in enumerate(matched):
        if pick is not None:
            found = frames[frame]
            values[frame] = np.concatenate([found.boxes[pick], found.points[pick].reshape(-1)])
            scores[frame] = found.scores[pick]
    values = _smooth(_interpolate(values, times), smooth_window)
    return FaceTrack(values[:, :4], values[:, 4:].reshape(count, 5, 2), scores, searched)


def _mark_duplicates(frames: list[Detections], used: list[np.ndarray], track: FaceTrack) -> None:
    """Other detections of the tracked face (MTCNN's near-duplicates) start no track of their own."""
    for frame, found in enumerate(frames):
        if len(found):
            used[frame] |= box_iou(track.boxes[frame], found.boxes) >= DUPLICATE_IOU


def _interpolate(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Fill missing rows linearly in time; the ends copy the nearest known row."""
    known = ~np.isnan(values[:, 0])
    filled = values.copy()
    for column in range(values.shape[1]):
        filled[:, column] = np.interp(times, times[known], values[known, column])
    return filled


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` frames, the ends padded with their edge values."""
    if window <= 1 or len(values) < 2:
        return values
    half = window // 2
    padded = np.pad(values, ((half, window - 1 - half), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack(
        [np.convolve(padded[:, k], kernel, mode="valid") for k in range(values.shape[1])], axis=1
    )
