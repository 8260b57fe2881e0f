"""Self-blending: a face blended into itself after small colour, geometry and sharpness changes.

The idea follows Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): a fake made from one
image alone carries the generic traces of face blending (a boundary, colour and scale
mismatch, resampling) without any identity change. One parameter draw per clip; the mask
follows each frame's landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from dfd.fakes.masks import MaskParams, face_ellipse, face_mask_region, sample_mask_params


@dataclass(frozen=True)
class BlendParams:
    """One self-blending manipulation."""

    hue: float  # shift in degrees
    saturation: float  # factor
    brightness: float  # offset, fraction of the full range
    contrast: float  # factor around the region's mean
    scale: tuple[float, float]  # source resize around the face centre (x, y)
    shift: tuple[float, float]  # source translation, fraction of the face size
    sharpness: float  # < 0: Gaussian blur of sigma -sharpness; > 0: unsharp-mask amount
    ratio: float  # blend ratio at the mask's peak
    mask: MaskParams


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def sample_blend_params(rng: np.random.Generator) -> BlendParams:
    """Clear but plausible changes: the demo's detectors learn from a few dozen clips only."""
    mask = sample_mask_params(rng)
    return BlendParams(
        hue=_signed(rng, 2.0, 8.0),
        saturation=float(rng.uniform(0.75, 1.25)),
        brightness=_signed(rng, 0.04, 0.12),
        contrast=float(rng.uniform(0.8, 1.2)),
        scale=(float(rng.uniform(0.9, 1.1)), float(rng.uniform(0.9, 1.1))),
        shift=(_signed(rng, 0.0, 0.05), _signed(rng, 0.0, 0.05)),
        sharpness=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 2.0)),
        ratio=float(rng.uniform(0.85, 1.0)),
        mask=replace(mask, feather=float(rng.uniform(0.015, 0.05))),
    )


def _recolour(rgb: np.ndarray, p: BlendParams) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + p.hue * 256.0 / 360.0) % 256.0
    hsv[..., 1] = np.clip(hsv[..., 1] * p.saturation, 0, 255)
    out = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    mean = out.mean()
    return np.clip((out - mean) * p.contrast + mean + 255.0 * p.brightness, 0, 255)


def _resharpen(rgb: np.ndarray, sharpness: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(rgb, (0, 0), abs(sharpness) if sharpness < 0 else 1.5)
    if sharpness < 0:
        return blurred
    return np.clip(rgb + sharpness * (rgb - blurred), 0, 255)


def self_blend(frame: np.ndarray, points: np.ndarray, params: BlendParams) -> np.ndarray:
    """Blend an altered copy of the face into the RGB frame; pixels off the mask are untouched."""
    mask, (x0, y0, x1, y1) = face_mask_region(frame.shape, points, params.mask)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    ellipse = face_ellipse(points)
    margin = int(0.15 * ellipse.size) + 4
    rx0, ry0 = max(x0 - margin, 0), max(y0 - margin, 0)
    rx1, ry1 = min(x1 + margin, frame.shape[1]), min(y1 + margin, frame.shape[0])
    source = _resharpen(_recolour(frame[ry0:ry1, rx0:rx1], params), params.sharpness)
    cx, cy = ellipse.centre - (rx0, ry0)
    sx, sy = params.scale
    warp = np.float32([[sx, 0, cx - sx * cx + params.shift[0] * ellipse.size],
                       [0, sy, cy - sy * cy + params.shift[1] * ellipse.size]])
    source = cv2.warpAffine(source, warp, (rx1 - rx0, ry1 - ry0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)[y0 - ry0:y1 - ry0, x0 - rx0:x1 - rx0]
    region = frame[y0:y1, x0:x1].astype(np.float32)
    alpha = params.ratio * mask[..., None]
    out[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + source * alpha, 0, 255).round().astype(np.uint8)
    return out


def self_blend_clip(frames: np.ndarray, points: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, BlendParams]:
    """Self-blend every frame of a clip with one parameter draw; returns frames and params."""
    params = sample_blend_params(rng)
    return np.stack([self_blend(f, p, params) for f, p in zip(frames, points)]), params
