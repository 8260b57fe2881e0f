"""Face boxes and 5-point landmarks from MTCNN, tracked and smoothed over time.

Landmark order (facenet-pytorch): left eye, right eye, nose, left mouth corner, right mouth
corner, in image coordinates of RGB frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN


@dataclass(frozen=True)
class Faces:
    """All faces found in one image, largest first."""

    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2
    points: np.ndarray  # (N, 5, 2)
    probs: np.ndarray  # (N,)


@dataclass(frozen=True)
class FaceTrack:
    """One face followed through a sequence of frames."""

    boxes: np.ndarray  # (T, 4)
    points: np.ndarray  # (T, 5, 2)
    found: np.ndarray  # (T,) bool; boxes/points are meaningless where False


@lru_cache(maxsize=4)
def get_detector(min_face_size: int = 20) -> MTCNN:
    """A shared CPU MTCNN (weights ship in the facenet-pytorch wheel)."""
    return MTCNN(keep_all=True, device="cpu", min_face_size=min_face_size)


def _to_faces(boxes, probs, points, scale: float, min_prob: float) -> Faces:
    if boxes is None:
        return Faces(np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0))
    boxes = boxes.astype(float) / scale
    points = points.astype(float) / scale
    probs = probs.astype(float)
    keep = probs >= min_prob
    boxes, points, probs = boxes[keep], points[keep], probs[keep]
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    return Faces(boxes[order], points[order], probs[order])


def detect_faces(images: list[np.ndarray], max_side: int = 640, min_prob: float = 0.9,
                 batch_size: int = 16, min_face_size: int = 20) -> list[Faces]:
    """Detect faces in same-sized RGB images, downscaled so the longer side is <= max_side.

    min_face_size (pixels at the detection scale) bounds MTCNN's image pyramid: larger is faster.
    """
    if not images:
        return []
    height, width = images[0].shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (round(width * scale), round(height * scale))
        images = [cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in images]
    detector = get_detector(min_face_size)
    results: list[Faces] = []
    for start in range(0, len(images), batch_size):
        batch = np.stack(images[start:start + batch_size])
        with torch.no_grad():
            boxes, probs, points = detector.detect(batch, landmarks=True)
        results += [_to_faces(b, p, q, scale, min_prob) for b, p, q in zip(boxes, probs, points)]
    return results


def _pick(faces: list[Faces]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow one face: the largest at first, then the one nearest to the last pick."""
    boxes = np.zeros((len(faces), 4))
    points = np.zeros((len(faces), 5, 2))
    found = np.zeros(len(faces), bool)
    last = None
    for i, f in enumerate(faces):
        if len(f.boxes) == 0:
            continue
        centres = (f.boxes[:, :2] + f.boxes[:, 2:]) / 2
        j = 0 if last is None else int(np.argmin(np.linalg.norm(centres - last, axis=1)))
        boxes[i], points[i], found[i] = f.boxes[j], f.points[j], True
        last = centres[j]
    return boxes, points, found


def _smooth_runs(values: np.ndarray, found: np.ndarray, window: int) -> np.ndarray:
    """Moving average over time inside each run of found frames (edges padded)."""
    out = values.copy()
    flat = values.reshape(len(values), -1)
    edges = np.flatnonzero(np.diff(np.r_[0, found.astype(int), 0]))
    half = window // 2
    for start, stop in zip(edges[::2], edges[1::2]):
        run = flat[start:stop]
        padded = np.pad(run, ((half, half), (0, 0)), mode="edge")
        kernel = np.ones(window) / window
        smoothed = np.stack([np.convolve(padded[:, k], kernel, "valid") for k in range(run.shape[1])], 1)
        out[start:stop] = smoothed.reshape(values[start:stop].shape)
    return out


def track_face(frames: np.ndarray, stride: int = 3, max_side: int = 320, max_gap: int = 9,
               window: int = 5, min_face_size: int = 32) -> FaceTrack:
    """Detect on every `stride`-th frame, interpolate in between, then smooth over time.

    A frame counts as found when detections lie within `max_gap` frames on both sides of it
    (or within stride - 1 frames of one detection at the ends of the sequence).
    """
    n = len(frames)
    sampled = np.arange(0, n, stride)
    if sampled[-1] != n - 1:
        sampled = np.r_[sampled, n - 1]
    boxes_s, points_s, found_s = _pick(detect_faces([frames[i] for i in sampled], max_side,
                                                        min_face_size=min_face_size))
    hits = sampled[found_s]
    t = np.arange(n)
    if len(hits) == 0:
        return FaceTrack(np.zeros((n, 4)), np.zeros((n, 5, 2)), np.zeros(n, bool))
    values = np.concatenate([boxes_s[found_s], points_s[found_s].reshape(-1, 10)], 1)
    interp = np.stack([np.interp(t, hits, values[:, k]) for k in range(values.shape[1])], 1)
    nxt = np.searchsorted(hits, t)
    prev_hit = hits[np.clip(nxt - 1, 0, None)]
    next_hit = hits[np.clip(nxt, None, len(hits) - 1)]
    on_hit = np.isin(t, hits)
    bridged = (nxt > 0) & (nxt < len(hits)) & (next_hit - prev_hit <= max_gap)
    near_end = np.min(np.abs(t[:, None] - hits[None, :]), 1) <= stride - 1
    found = on_hit | bridged | near_end
    smoothed = _smooth_runs(interp, found, window)
    return FaceTrack(smoothed[:, :4], smoothed[:, 4:].reshape(n, 5, 2), found)
