"""Follow one face across the sampled frames of a video.

The track starts at the most confident large face, then moves frame by frame (forward and
backward) to the detection that best overlaps the last matched box. Frames where the face
was not found get a box interpolated from the nearest matched frames and a score of 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_IOU = 0.2
MAX_CENTRE_SHIFT = 1.0  # in units of the last matched box's larger side


@dataclass(frozen=True)
class FaceTrack:
    """One box ``x1, y1, x2, y2`` and one detection score per sampled frame."""

    boxes: np.ndarray  # (N, 4) float
    scores: np.ndarray  # (N,) float, 0.0 where the box was interpolated

    @property
    def num_detected(self) -> int:
        """How many frames had a real detection."""
        return int(np.count_nonzero(self.scores > 0))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of ``boxes`` (all ``x1, y1, x2, y2``)."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def follow_face(detections: list[np.ndarray], frame_indices: list[int]) -> FaceTrack | None:
    """Track one face through per-frame (K, 5) detections; None when no frame has a face."""
    found = _start(detections)
    if found is None:
        return None
    start, first = found
    count = len(detections)
    boxes = np.full((count, 4), np.nan)
    scores = np.zeros(count)
    boxes[start], scores[start] = first[:4], first[4]
    for order in (range(start + 1, count), range(start - 1, -1, -1)):
        last = first[:4]
        for frame in order:
            match = _match(last, detections[frame])
            if match is not None:
                boxes[frame], scores[frame] = match[:4], match[4]
                last = match[:4]
    return FaceTrack(boxes=_interpolate(boxes, np.asarray(frame_indices, dtype=float)), scores=scores)


def _strength(candidates: np.ndarray) -> np.ndarray:
    """Confidence weighted by face size: the main, clearest face scores highest."""
    widths = np.clip(candidates[:, 2] - candidates[:, 0], 0, None)
    heights = np.clip(candidates[:, 3] - candidates[:, 1], 0, None)
    return candidates[:, 4] * np.sqrt(widths * heights)


def _start(detections: list[np.ndarray]) -> tuple[int, np.ndarray] | None:
    """The frame and detection of the strongest face in the whole video."""
    best: tuple[int, np.ndarray] | None = None
    best_value = -1.0
    for frame, candidates in enumerate(detections):
        if len(candidates):
            strengths = _strength(candidates)
            if strengths.max() > best_value:
                best, best_value = (frame, candidates[int(np.argmax(strengths))]), float(strengths.max())
    return best


def _match(last: np.ndarray, candidates: np.ndarray) -> np.ndarray | None:
    if not len(candidates):
        return None
    ious = box_iou(last, candidates[:, :4])
    if ious.max() >= MIN_IOU:
        return candidates[int(np.argmax(ious))]
    centre = (last[:2] + last[2:]) / 2
    centres = (candidates[:, :2] + candidates[:, 2:4]) / 2
    distances = np.linalg.norm(centres - centre, axis=1)
    side = max(last[2] - last[0], last[3] - last[1])
    nearest = int(np.argmin(distances))
    return candidates[nearest] if distances[nearest] <= MAX_CENTRE_SHIFT * side else None


def _interpolate(boxes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Fill missing boxes linearly in source-frame time; ends copy the nearest known box."""
    known = ~np.isnan(boxes[:, 0])
    filled = boxes.copy()
    for column in range(4):
        filled[:, column] = np.interp(positions, positions[known], boxes[known, column])
    return filled
