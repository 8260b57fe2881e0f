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

from dfd.data.selfblend.masks import MaskParams, face_ellipse, face_mask_region, sample_mask_params


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
    downscale: float = 1.0  # > 1: the altered image is resampled down by this factor and back
    alter_target: bool = False  # alter the frame around the face instead of the face itself


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


def sample_sbi_params(rng: np.random.Generator) -> BlendParams:
    """The ranges of the Self-Blended Images paper's generator: colour and frequency changes
    applied to the source face or to the target frame (half the draws each), a slightly
    resized and shifted source, a strongly deformed and feathered mask, and a blend ratio
    drawn from {0.25, 0.5, 0.75, 1, 1, 1}."""
    downscale = float(rng.uniform(2.0, 4.0)) if rng.random() < 0.5 else 1.0
    mask = sample_mask_params(rng)
    return BlendParams(
        hue=_signed(rng, 0.0, 20.0),
        saturation=float(rng.uniform(0.85, 1.15)),
        brightness=_signed(rng, 0.0, 0.1),
        contrast=float(rng.uniform(0.9, 1.1)),
        scale=(float(rng.uniform(0.95, 1.05)), float(rng.uniform(0.95, 1.05))),
        shift=(_signed(rng, 0.0, 0.03), _signed(rng, 0.0, 0.03)),
        sharpness=0.0 if downscale > 1 else float(rng.uniform(0.5, 1.5)),
        ratio=float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])),
        mask=replace(
            mask,
            scale_x=float(rng.uniform(0.85, 1.15)),
            scale_y=float(rng.uniform(0.85, 1.1)),
            wobble=tuple(float(a) for a in rng.uniform(0.0, 0.07, 3)),
            morph=float(rng.uniform(-0.05, 0.05)),
            feather=float(rng.uniform(0.02, 0.1)),
        ),
        downscale=downscale,
        alter_target=bool(rng.random() < 0.5),
    )


BLEND_STYLES = {"demo": sample_blend_params, "sbi": sample_sbi_params}


def _alter(rgb: np.ndarray, p: BlendParams) -> np.ndarray:
    """The colour, sharpness and resolution changes of `p` on a (T, h, w, 3) uint8 stack."""
    altered = _recolour(rgb, p)
    if p.sharpness:
        altered = _resharpen(altered, p.sharpness)
    if p.downscale > 1:
        height, width = rgb.shape[1:3]
        small = (max(round(width / p.downscale), 1), max(round(height / p.downscale), 1))
        altered = np.stack(
            [
                cv2.resize(
                    cv2.resize(frame, small, interpolation=cv2.INTER_AREA),
                    (width, height),
                    interpolation=cv2.INTER_LINEAR,
                )
                for frame in altered
            ]
        )
    return altered


def _recolour(rgb: np.ndarray, p: BlendParams) -> np.ndarray:
    """Hue, saturation, contrast (around each frame's mean) and brightness of (T, h, w, 3) uint8,
    as lookup tables on uint8 (OpenCV's fast path)."""
    levels = np.arange(256, dtype=np.float32)
    lut = np.stack(
        [
            (levels + round(p.hue * 256.0 / 360.0)) % 256,  # hue turns around the circle
            np.clip(levels * p.saturation, 0, 255).round(),
            levels,
        ],
        axis=-1,
    )
    hsv = cv2.cvtColor(rgb.reshape(-1, *rgb.shape[2:]), cv2.COLOR_RGB2HSV_FULL)
    hsv = cv2.LUT(hsv, lut.astype(np.uint8).reshape(256, 1, 3))
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL).reshape(rgb.shape)
    for frame in out:
        offset = np.mean(cv2.mean(frame)[:3]) * (1 - p.contrast) + 255.0 * p.brightness
        cv2.LUT(
            frame, np.clip(levels * p.contrast + offset, 0, 255).round().astype(np.uint8), dst=frame
        )
    return out


def _resharpen(rgb: np.ndarray, sharpness: float) -> np.ndarray:
    """Blur (sharpness < 0) or unsharp-mask (> 0) each frame of a (T, h, w, 3) uint8 stack."""
    sigma = abs(sharpness) if sharpness < 0 else 1.5
    blurred = np.stack([cv2.GaussianBlur(frame, (0, 0), sigma) for frame in rgb])
    if sharpness < 0:
        return blurred
    for frame, blur in zip(rgb, blurred):  # frame + s * (frame - blur), saturated to 0..255
        cv2.addWeighted(frame, 1.0 + sharpness, blur, -sharpness, 0.0, dst=blur)
    return blurred


def self_blend_frames(frames: np.ndarray, points: np.ndarray, params: BlendParams) -> np.ndarray:
    """Blend an altered copy of the face into each RGB frame of a (T, H, W, 3) uint8 stack whose
    face sits at the same `points` in every frame: the mask is drawn once for the whole stack.
    Pixels off the mask are untouched, unless `params.alter_target` alters the frame around
    the face instead (then the original face is what is blended in)."""
    return self_blend_with_mask(frames, points, params)[0]


def self_blend_with_mask(
    frames: np.ndarray, points: np.ndarray, params: BlendParams
) -> tuple[np.ndarray, np.ndarray]:
    """`self_blend_frames` and its blend mask M, (H, W) float32 in [0, 1]: each output pixel is
    M * face + (1 - M) * frame (Face X-ray's blending mask; its peak is the blend ratio). The
    face blended in is the altered one, or, with `params.alter_target`, the original face
    into an altered frame: then the pixels that changed are those where M < 1."""
    full = np.zeros(frames.shape[1:3], np.float32)
    mask, (x0, y0, x1, y1) = face_mask_region(frames.shape[1:], points, params.mask)
    if x1 <= x0 or y1 <= y0:
        return frames.copy(), full
    ellipse = face_ellipse(points)
    margin = int(0.15 * ellipse.size) + 4
    height, width = frames.shape[1:3]
    rx0, ry0 = max(x0 - margin, 0), max(y0 - margin, 0)
    rx1, ry1 = min(x1 + margin, width), min(y1 + margin, height)
    if params.alter_target:  # the original face blended into an altered frame
        out = _alter(frames, params)
        source = frames[:, ry0:ry1, rx0:rx1]
    else:
        out = frames.copy()
        source = _alter(frames[:, ry0:ry1, rx0:rx1], params)
    cx, cy = ellipse.centre - (rx0, ry0)
    sx, sy = params.scale
    warp = np.float32(
        [
            [sx, 0, cx - sx * cx + params.shift[0] * ellipse.size],
            [0, sy, cy - sy * cy + params.shift[1] * ellipse.size],
        ]
    )
    weight = (params.ratio * mask).astype(np.float32)
    for s, target in zip(source, out):  # per frame: OpenCV's warpAffine is wrong beyond 4 channels
        moved = cv2.warpAffine(
            np.ascontiguousarray(s),
            warp,
            (rx1 - rx0, ry1 - ry0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        region = np.ascontiguousarray(target[y0:y1, x0:x1])
        # region + weight * (moved - region), rounded, in one pass on uint8
        target[y0:y1, x0:x1] = cv2.blendLinear(
            moved[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0], region, weight, 1.0 - weight
        )
    full[y0:y1, x0:x1] = weight
    return out, full


def self_blend(frame: np.ndarray, points: np.ndarray, params: BlendParams) -> np.ndarray:
    """Blend an altered copy of the face into one RGB frame (see `self_blend_frames`)."""
    return self_blend_frames(frame[None], points, params)[0]


def self_blend_clip(
    frames: np.ndarray, points: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, BlendParams]:
    """Self-blend every frame of a clip with one parameter draw; returns frames and params."""
    params = sample_blend_params(rng)
    return np.stack([self_blend(f, p, params) for f, p in zip(frames, points)]), params
