"""Soft face masks from the 5 landmarks: a deformed, dilated or eroded, feathered ellipse."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskParams:
    """Shape of a mask relative to the face; drawn once per clip."""

    scale_x: float = 1.0
    scale_y: float = 1.0
    wobble: tuple[float, ...] = ()  # amplitudes of boundary harmonics 2, 3, ...
    phases: tuple[float, ...] = ()
    morph: float = 0.0  # > 0 dilates, < 0 erodes, as a fraction of the face size
    feather: float = 0.06  # Gaussian sigma as a fraction of the face size


def sample_mask_params(rng: np.random.Generator) -> MaskParams:
    """A random, moderate deformation of the face ellipse."""
    return MaskParams(
        scale_x=float(rng.uniform(0.9, 1.1)),
        scale_y=float(rng.uniform(0.9, 1.05)),
        wobble=tuple(float(a) for a in rng.uniform(0.0, 0.04, 3)),
        phases=tuple(float(p) for p in rng.uniform(0.0, 2 * np.pi, 3)),
        morph=float(rng.uniform(-0.03, 0.03)),
        feather=float(rng.uniform(0.03, 0.08)),
    )


@dataclass(frozen=True)
class FaceEllipse:
    """An ellipse from the eyebrows to the chin, aligned with the eyes-to-mouth axis."""

    centre: np.ndarray  # (2,)
    down: np.ndarray  # unit vector from the eyes towards the mouth
    half_width: float
    half_height: float

    @property
    def size(self) -> float:
        """The face diameter, the unit of all relative mask parameters."""
        return 2.0 * float(np.sqrt(self.half_width * self.half_height))


def face_ellipse(points: np.ndarray) -> FaceEllipse:
    """Fit the face ellipse to 5 landmarks (eyes, nose, mouth corners).

    A turned head moves the nose towards the far cheek, so the ellipse is shifted away from
    the nose and narrowed to stay on the face.
    """
    points = np.asarray(points, float)
    eyes = points[:2].mean(0)
    mouth = points[3:].mean(0)
    axis = mouth - eyes
    eye_mouth = max(float(np.linalg.norm(axis)), 1.0)
    down = axis / eye_mouth
    across = np.array([-down[1], down[0]])
    yaw = float(np.dot(points[2] - (eyes + mouth) / 2, across))
    inter_ocular = float(np.linalg.norm(points[1] - points[0]))
    return FaceEllipse(
        centre=eyes + 0.6 * axis - 0.6 * yaw * across,
        down=down,
        half_width=max(inter_ocular, 0.8 * eye_mouth) - 0.3 * abs(yaw),
        half_height=1.15 * eye_mouth,
    )


def _outline(ellipse: FaceEllipse, params: MaskParams, n: int = 96) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    radius = np.ones_like(t)
    for k, (amp, phase) in enumerate(zip(params.wobble, params.phases), start=2):
        radius += amp * np.sin(k * t + phase)
    across = np.array([-ellipse.down[1], ellipse.down[0]])
    x = ellipse.half_width * params.scale_x * radius * np.cos(t)
    y = ellipse.half_height * params.scale_y * radius * np.sin(t)
    return ellipse.centre + x[:, None] * across + y[:, None] * ellipse.down


def face_mask_region(
    shape: tuple[int, int], points: np.ndarray, params: MaskParams = MaskParams()
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The mask's nonzero part only: a float32 patch and its (x0, y0, x1, y1) in the image.

    The box may be empty (x1 <= x0) when the face lies outside the image.
    """
    height, width = shape[:2]
    ellipse = face_ellipse(points)
    size = ellipse.size
    sigma = max(params.feather * size, 0.5)
    morph = int(round(abs(params.morph) * size))
    outline = _outline(ellipse, params)
    pad = morph + int(np.ceil(4 * sigma)) + 2
    x0, y0 = np.floor(outline.min(0)).astype(int) - pad
    x1, y1 = np.ceil(outline.max(0)).astype(int) + pad
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(canvas, [np.round(outline - (x0, y0)).astype(np.int32)], 255)
    if morph:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * morph + 1, 2 * morph + 1))
        canvas = (cv2.dilate if params.morph > 0 else cv2.erode)(canvas, kernel)
    soft = np.clip(cv2.GaussianBlur(canvas.astype(np.float32) / 255.0, (0, 0), sigma), 0.0, 1.0)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return soft[cy0 - y0 : max(cy1, cy0) - y0, cx0 - x0 : max(cx1, cx0) - x0], (cx0, cy0, cx1, cy1)


def face_mask(
    shape: tuple[int, int], points: np.ndarray, params: MaskParams = MaskParams()
) -> np.ndarray:
    """A float32 (H, W) mask in [0, 1]: 1 over the face, feathered to 0 outside it."""
    patch, (x0, y0, x1, y1) = face_mask_region(shape, points, params)
    mask = np.zeros(shape[:2], np.float32)
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] = patch
    return mask
