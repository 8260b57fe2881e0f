"""Batched face detection with facenet-pytorch's MTCNN on downscaled frames.

Frames are shrunk so that their longer side is at most ``max_side`` before detection, and
the boxes and landmarks are mapped back to full-resolution coordinates. MTCNN's cost grows
with the number of pixels over ``min_face_size`` squared, so both set the speed; faces
smaller than ``min_face_size`` pixels *at the detection scale* are not looked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN


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


class FaceDetector:
    """Find faces in RGB frames, ``batch_size`` frames per MTCNN call."""

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
        self.max_side = int(max_side) if max_side else None
        self.device = resolve_device(device)
        self._mtcnn = MTCNN(keep_all=True, min_face_size=int(min_face_size), device=self.device)

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
            with torch.inference_mode():
                boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
            found.extend(self._keep(b, p, q, scale) for b, p, q in zip(boxes, probs, points))
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

    def _keep(self, boxes: object, probs: object, points: object, scale: float) -> Detections:
        if boxes is None:
            return Detections.empty()
        boxes = np.asarray(boxes).astype(float).reshape(-1, 4) / scale
        probs = np.asarray(probs).astype(float).reshape(-1)
        points = np.asarray(points).astype(float).reshape(-1, 5, 2) / scale
        keep = probs >= self.min_prob
        return Detections(boxes[keep], probs[keep], points[keep])


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
