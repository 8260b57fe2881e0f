"""Turn a still face photo into a short clip with a smooth, hand-held-like camera motion.

The landmarks of every frame come from the same transform as the pixels, so no per-frame
face detection is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Motion:
    """A camera path: start/end zoom, rotation (degrees) and pan (fraction of the frame),
    plus a small sway (fraction of the frame, Hz and phase)."""

    zoom: tuple[float, float]
    angle: tuple[float, float]
    pan_x: tuple[float, float]
    pan_y: tuple[float, float]
    sway: float
    sway_hz: float
    sway_phase: float


def sample_motion(rng: np.random.Generator) -> Motion:
    """A slow zoom, a few degrees of rotation and a small pan; zoom >= 1.1 hides the borders."""
    return Motion(
        zoom=(float(rng.uniform(1.1, 1.22)), float(rng.uniform(1.1, 1.22))),
        angle=(float(rng.uniform(-3, 3)), float(rng.uniform(-3, 3))),
        pan_x=(float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02))),
        pan_y=(float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02))),
        sway=float(rng.uniform(0.0, 0.004)),
        sway_hz=float(rng.uniform(0.3, 0.8)),
        sway_phase=float(rng.uniform(0, 2 * np.pi)),
    )


def camera_path(
    motion: Motion, n_frames: int, size: tuple[int, int], fps: float = 25.0
) -> np.ndarray:
    """(T, 2, 3) affine transforms, eased from the start to the end pose."""
    width, height = size
    t = np.linspace(0.0, 1.0, n_frames)
    ease = t * t * (3 - 2 * t)
    sway = motion.sway * np.sin(
        2 * np.pi * motion.sway_hz * np.arange(n_frames) / fps + motion.sway_phase
    )

    def path(pair: tuple[float, float]) -> np.ndarray:
        return pair[0] + (pair[1] - pair[0]) * ease

    zoom, angle = path(motion.zoom), path(motion.angle)
    pan_x, pan_y = (path(motion.pan_x) + sway) * width, (path(motion.pan_y) - sway) * height
    centre = (width / 2.0, height / 2.0)
    transforms = np.stack([cv2.getRotationMatrix2D(centre, a, z) for a, z in zip(angle, zoom)])
    transforms[:, 0, 2] += pan_x
    transforms[:, 1, 2] += pan_y
    return transforms


def animate_photo(
    image: np.ndarray, points: np.ndarray, n_frames: int, motion: Motion
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W, 3) of the RGB photo under the camera motion and the moved landmarks (T, 5, 2)."""
    height, width = image.shape[:2]
    transforms = camera_path(motion, n_frames, (width, height))
    frames = np.stack(
        [
            cv2.warpAffine(
                image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
            )
            for m in transforms
        ]
    )
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], 1)
    moved = np.einsum("tij,pj->tpi", transforms, homogeneous)
    return frames, moved
