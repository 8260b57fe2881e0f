"""Face detector backends by name (``prepare.detector``); each is a :class:`FaceDetector`
made with the same arguments and giving the same :class:`Detections`."""

from __future__ import annotations

from dfd.prepare.detectors.base import (
    Detections,
    FaceDetector,
    box_iou,
    resolve_device,
    searched_frames,
)
from dfd.prepare.detectors.blazeface import BlazeFaceDetector
from dfd.prepare.detectors.mtcnn import MtcnnDetector

DETECTORS: dict[str, type[FaceDetector]] = {
    "mtcnn": MtcnnDetector,
    "blazeface": BlazeFaceDetector,
}

__all__ = [
    "DETECTORS",
    "Detections",
    "FaceDetector",
    "box_iou",
    "resolve_device",
    "searched_frames",
]
