"""Grad-CAM for `dfd predict --gradcam`: the clip that decided a video's verdict, its face
crops above and the overlays below, as one PNG."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from dfd.report.gradcam import explain_clip

MIN_SIDE = 128  # frames smaller than this are enlarged in the PNG


def strip(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) frames side by side as one image, each at least MIN_SIDE pixels high."""
    height, width = frames.shape[1:3]
    scale = max(1.0, MIN_SIDE / height)
    size = (round(width * scale), round(height * scale))
    return np.concatenate(
        [cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) for frame in frames], axis=1
    )


def write_overlay(detector: nn.Module, clip: torch.Tensor, raw: np.ndarray, path: Path) -> Path:
    """Explain one clip: `clip` is the normalized model input (T, 3, H, W), `raw` the same
    frames as uint8 RGB (T, H, W, 3). Raises ValueError when the detector has no layer
    Grad-CAM can explain."""
    overlays = explain_clip(detector, clip, raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([strip(raw), strip(overlays)], axis=0)).save(path)
    return path


def overlay_name(number: int, video: Path, face: int, clip_start: int) -> str:
    """A file name unique within one prediction run."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", video.stem).strip("_")[:60] or "video"
    return f"{number:04d}_{stem}_face{face}_clip{clip_start}.png"
