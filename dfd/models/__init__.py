"""Detectors: frame encoders (timm / torchvision), temporal heads, one clip-in logit-out interface."""

from dfd.models.detector import FrameDetector

__all__ = ["FrameDetector"]
