"""What every face detector backend shares: the ``Detections`` of one frame, and the batching,
downscaling and thresholding around a backend's own network.

Frames are shrunk so that their longer side is at most ``max_side`` before a backend sees them,
and its boxes and landmarks are mapped back to full-resolution coordinates. Each backend leaves
out faces smaller than ``min_face_size`` pixels *at that scale* in its own way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np
import torch


@dataclass(frozen=True)
class Detections:
    """The faces found in one frame, in full-resolution pixel coordinates."""

    boxes: np.ndarray  # (K, 4) x1, y1, x2, y2
    scores: np.ndarray  # (K,)
    points: np.ndarray  # (K, 5, 2) eyes, nose, mouth corners (facenet-pytorch order)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))

    def __len__(self) -> int:
        return len(self.scores)


class FaceDetector(ABC):
    """Find faces in RGB frames, ``batch_size`` frames per network call.

    A backend implements :meth:`find`; everything else (resizing, batching, the score and size
    thresholds, the mapping back to full resolution) is the same for all of them."""

    def __init__(
        self,
        device: str = "cpu",
        batch_size: int = 16,
        min_prob: float = 0.9,
        min_face_size: int = 40,
        max_side: int | None = 640,
    ) -> None:
        self.batch_size = max(1, int(batch_size))
        self.min_prob = float(min_prob)
        self.min_face_size = int(min_face_size)
        self.max_side = int(max_side) if max_side else None
        self.device = resolve_device(device)

    @classmethod
    def require(cls) -> None:
        """Raise ModuleNotFoundError, before any work starts, when an optional package this
        backend needs is missing (a backend on dfd's own dependencies needs nothing)."""
        return None

    @abstractmethod
    def find(self, frames: np.ndarray) -> list[Detections]:
        """Faces of at least ``min_face_size`` pixels in a stack of (N, H, W, 3) RGB uint8
        frames, in the stack's own coordinates, whatever their score (:meth:`detect` applies
        ``min_prob``)."""

    def scale_for(self, height: int, width: int) -> float:
        """The factor frames of this size are resized by before detection (<= 1)."""
        return 1.0 if self.max_side is None else min(1.0, self.max_side / max(height, width))

    def detect(self, frames: np.ndarray | list[np.ndarray]) -> list[Detections]:
        """Detect faces in same-sized (H, W, 3) RGB uint8 frames."""
        if len(frames) == 0:
            return []
        height, width = frames[0].shape[:2]
        scale = self.scale_for(height, width)
        found: list[Detections] = []
        for start in range(0, len(frames), self.batch_size):
            batch = np.stack(
                [_resize(frame, scale) for frame in frames[start : start + self.batch_size]]
            )
            found.extend(self._keep(faces, scale) for faces in self.find(batch))
        return found

    def detect_every(self, frames: np.ndarray, every: int) -> list[Detections | None]:
        """Detect on every ``every``-th frame (and the last); ``None`` for the frames not searched."""
        searched = searched_frames(len(frames), every)
        detections: list[Detections | None] = [None] * len(frames)
        for position, found in zip(
            searched, self.detect([frames[p] for p in searched])
        ):  # views, no copy
            detections[position] = found
        return detections

    def _keep(self, faces: Detections, scale: float) -> Detections:
        keep = faces.scores >= self.min_prob
        return Detections(faces.boxes[keep] / scale, faces.scores[keep], faces.points[keep] / scale)


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


def searched_frames(count: int, every: int) -> np.ndarray:
    """Positions that detection runs on: every ``every``-th frame and always the last."""
    positions = np.arange(0, count, every)
    return positions if positions[-1] == count - 1 else np.append(positions, count - 1)


def resolve_device(device: str) -> torch.device:
    """``auto`` is the GPU when there is one, else the CPU; other names are taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resize(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
