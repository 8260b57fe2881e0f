"""MTCNN (facenet-pytorch, weights in its wheel): the default backend, on CPU or GPU.

Its cost grows with the number of pixels over ``min_face_size`` squared, so ``max_side`` and
``min_face_size`` set its speed. Its scores are the O-Net's face probability."""

from __future__ import annotations

import numpy as np
import torch
from facenet_pytorch import MTCNN

from dfd.prepare.detectors.base import Detections, FaceDetector


class MtcnnDetector(FaceDetector):
    """facenet-pytorch's MTCNN, all faces of a batch of frames in one call."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._mtcnn = MTCNN(keep_all=True, min_face_size=self.min_face_size, device=self.device)

    def find(self, frames: np.ndarray) -> list[Detections]:
        with torch.inference_mode():
            boxes, probs, points = self._mtcnn.detect(frames, landmarks=True)
        return [_as_detections(b, p, q) for b, p, q in zip(boxes, probs, points)]


def _as_detections(boxes: object, probs: object, points: object) -> Detections:
    """facenet-pytorch's per-frame result (None, or numpy object arrays) as float arrays."""
    if boxes is None:
        return Detections.empty()
    return Detections(
        np.asarray(boxes).astype(float).reshape(-1, 4),
        np.asarray(probs).astype(float).reshape(-1),
        np.asarray(points).astype(float).reshape(-1, 5, 2),
    )
