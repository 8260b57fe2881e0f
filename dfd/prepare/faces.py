"""Batched face detection with facenet-pytorch's MTCNN."""

from __future__ import annotations

import numpy as np
import torch
from facenet_pytorch import MTCNN


class FaceDetector:
    """Find faces in RGB frames; each frame gives a (K, 5) array of ``x1, y1, x2, y2, prob``."""

    def __init__(self, device: str = "cpu", batch_size: int = 16, min_prob: float = 0.9,
                 min_face_size: int = 40) -> None:
        self.batch_size = max(1, int(batch_size))
        self.min_prob = float(min_prob)
        # MTCNN's image pyramid starts at 12 / min_face_size of the frame: the smallest face
        # looked for sets the cost of the largest (most expensive) pyramid level.
        self._mtcnn = MTCNN(keep_all=True, min_face_size=int(min_face_size), device=torch.device(device))

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """Detect faces in (N, H, W, 3) RGB uint8 frames of one size, ``batch_size`` at a time."""
        found: list[np.ndarray] = []
        for start in range(0, len(frames), self.batch_size):
            batch = np.ascontiguousarray(frames[start : start + self.batch_size])
            with torch.inference_mode():
                boxes, probs = self._mtcnn.detect(batch, landmarks=False)
            found.extend(self._keep(frame_boxes, frame_probs) for frame_boxes, frame_probs in zip(boxes, probs))
        return found

    def _keep(self, boxes: object, probs: object) -> np.ndarray:
        if boxes is None:
            return np.zeros((0, 5))
        boxes = np.asarray(boxes).astype(float).reshape(-1, 4)
        probs = np.asarray(probs).astype(float).reshape(-1)
        detections = np.concatenate([boxes, probs[:, None]], axis=1)
        return detections[detections[:, 4] >= self.min_prob]
