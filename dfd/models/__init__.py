"""Detectors: frame encoders (timm / torchvision), temporal heads, 3D video networks, all behind
one interface (`Detector`: clips in, one logit per clip out)."""

from dfd.models.base import Detector, DetectorOutput
from dfd.models.detector import FrameDetector
from dfd.models.inputs import InputSpec

__all__ = ["Detector", "DetectorOutput", "FrameDetector", "InputSpec"]
