"""Square face crops with a margin, padded with black where they leave the frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

JPEG_QUALITY = 95


def square_region(box: np.ndarray, margin: float) -> tuple[int, int, int]:
    """The square ``(left, top, side)`` centred on a box, grown by ``margin`` of its size per side."""
    x1, y1, x2, y2 = (float(value) for value in box[:4])
    side = max(x2 - x1, y2 - y1, 1.0) * (1.0 + 2.0 * margin)
    side_px = max(int(round(side)), 1)
    left = int(round((x1 + x2) / 2 - side_px / 2))
    top = int(round((y1 + y2) / 2 - side_px / 2))
    return left, top, side_px


def crop_square(frame: np.ndarray, box: np.ndarray, margin: float, size: int) -> np.ndarray:
    """Cut the square around ``box`` from an (H, W, 3) frame and resize it to ``size`` x ``size``.

    Channel order is kept as given (RGB in, RGB out).
    """
    left, top, side = square_region(box, margin)
    height, width = frame.shape[:2]
    canvas = np.zeros((side, side, frame.shape[2]), dtype=frame.dtype)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side, width), min(top + side, height)
    if x1 > x0 and y1 > y0:
        canvas[y0 - top : y1 - top, x0 - left : x1 - left] = frame[y0:y1, x0:x1]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=interpolation)


def save_rgb_jpeg(image: np.ndarray, path: str | Path) -> None:
    """Write an RGB uint8 image as a JPEG (quality 95) with PIL, which expects RGB."""
    Image.fromarray(np.ascontiguousarray(image)).save(path, format="JPEG", quality=JPEG_QUALITY)
