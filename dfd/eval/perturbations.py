"""Perturbations of face clips for robustness tests: each a pure function of a clip and a severity.

A clip is a (T, H, W, 3) uint8 RGB array; every perturbation returns a new array of the same
shape and dtype and leaves its input untouched. Severity scales, one scalar per kind (values are
in pixels and 0-255 units of the prepared face crops, whatever size they were saved at):

- `jpeg`: JPEG quality, 1-100 (lower is stronger); every frame re-encoded by OpenCV.
- `downscale`: factor >= 1; every frame shrunk by it (area interpolation), then enlarged back
  (bilinear). 1 is the identity.
- `blur`: Gaussian blur sigma in pixels, >= 0. 0 is the identity.
- `noise`: standard deviation of additive Gaussian noise in 0-255 units, >= 0, drawn
  independently per pixel and channel. The draw is seeded from the clip's bytes, so one clip
  always gets the same noise. 0 is the identity.
- `brightness_contrast`: s in [0, 1), a washed-out exposure: the contrast is scaled by (1 - s)
  about the clip's mean intensity, then `64 * s` is added to every value. 0 is the identity.
- `h264`: x264 CRF, 0-51 (higher is stronger): the whole clip encoded as one H.264 stream
  (yuv420p, 25 fps, preset medium, one thread) in memory, then decoded back. Odd sizes are padded
  by repeating the last row/column for the 4:2:0 chroma grid, then cropped back.

`PERTURBATIONS` maps each name to its function; `Perturbation(name, severity)` is one of them
bound to a severity, a picklable callable for `FaceClipDataset(perturb=...)`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import av
import cv2
import numpy as np

PerturbFunction = Callable[[np.ndarray, float], np.ndarray]

BRIGHTNESS_SHIFT = 64.0  # added at brightness_contrast severity 1 (0-255 units)
H264_FPS = 25
H264_PRESET = "medium"
DEFAULT_SEVERITIES: dict[str, list[float]] = {
    "jpeg": [90, 70, 50, 30],
    "downscale": [2, 3, 4],
    "blur": [1, 2, 3],
    "noise": [5, 10, 20],
    "brightness_contrast": [0.2, 0.4, 0.6],
    "h264": [23, 30, 35, 40],
}
SEVERITY_NAMES = {
    "jpeg": "JPEG quality",
    "downscale": "downscale factor",
    "blur": "Gaussian blur sigma (px)",
    "noise": "Gaussian noise std (0-255)",
    "brightness_contrast": "wash-out s (contrast ×(1-s), +64s)",
    "h264": "H.264 CRF",
}


def _check_range(name: str, value: float, low: float, high: float | None = None) -> None:
    if not low <= value <= (np.inf if high is None else high):
        bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise ValueError(f"{name} severity must be {bounds}, got {value}")


def jpeg(frames: np.ndarray, quality: float) -> np.ndarray:
    """Every frame JPEG-encoded at `quality` (1-100, rounded) and decoded back."""
    _check_range("jpeg", quality, 1, 100)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))]
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RuntimeError("OpenCV failed to JPEG-encode a frame")
        out[i] = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB)
    return out


def downscale(frames: np.ndarray, factor: float) -> np.ndarray:
    """Every frame shrunk by `factor` (>= 1, area interpolation), then resized back (bilinear)."""
    _check_range("downscale", factor, 1)
    height, width = frames.shape[1:3]
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    if small == (width, height):
        return frames.copy()
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        shrunk = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(shrunk, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Every frame blurred by a Gaussian of `sigma` pixels (>= 0; OpenCV picks the kernel size)."""
    _check_range("blur", sigma, 0)
    if sigma == 0:
        return frames.copy()
    return np.stack([cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma) for frame in frames])


def clip_seed(frames: np.ndarray) -> int:
    """A 64-bit seed from a clip's bytes: the same clip always gets the same random draw."""
    digest = hashlib.blake2b(np.ascontiguousarray(frames).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def noise(frames: np.ndarray, std: float, seed: int | None = None) -> np.ndarray:
    """Additive Gaussian noise of `std` (0-255 units, >= 0), rounded and clipped to uint8.

    The generator is seeded with `seed`, or with `clip_seed(frames)` when None.
    """
    _check_range("noise", std, 0)
    if std == 0:
        return frames.copy()
    rng = np.random.default_rng(clip_seed(frames) if seed is None else seed)
    noisy = frames + rng.standard_normal(frames.shape, dtype=np.float32) * np.float32(std)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def brightness_contrast(frames: np.ndarray, strength: float) -> np.ndarray:
    """Contrast scaled by (1 - strength) about the clip mean, then brightened by 64 * strength.

    `strength` in [0, 1): 0 is the identity; applied as one 256-entry lookup table per clip.
    """
    _check_range("brightness_contrast", strength, 0, 1)
    if strength == 1:
        raise ValueError("brightness_contrast severity must be below 1 (1 leaves a flat clip)")
    if strength == 0:
        return frames.copy()
    pivot = float(frames.mean())
    values = np.arange(256, dtype=np.float64)
    table = (values - pivot) * (1 - strength) + pivot + BRIGHTNESS_SHIFT * strength
    return np.clip(np.rint(table), 0, 255).astype(np.uint8)[frames]


def _even_padded(frames: np.ndarray) -> np.ndarray:
    """The clip padded to even height and width by repeating its last row/column."""
    height, width = frames.shape[1:3]
    return np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _h264_bytes(frames: np.ndarray, crf: float) -> bytes:
    """An H.264 elementary stream of even-sized frames, encoded by libx264 at `crf`."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=H264_FPS)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": f"{crf:g}", "preset": H264_PRESET}
        stream.codec_context.thread_count = 1
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def _h264_frames(data: bytes) -> np.ndarray:
    """Every frame of an H.264 elementary stream, as (T, H, W, 3) uint8 RGB."""
    with av.open(io.BytesIO(data), "r", format="h264") as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def h264(frames: np.ndarray, crf: float) -> np.ndarray:
    """The clip encoded as one H.264 stream at `crf` (0-51; libx264, yuv420p) and decoded back."""
    _check_range("h264", crf, 0, 51)
    height, width = frames.shape[1:3]
    decoded = _h264_frames(_h264_bytes(_even_padded(frames), crf))
    if len(decoded) != len(frames):
        raise RuntimeError(f"H.264 round trip gave {len(decoded)} frames for {len(frames)}")
    return np.ascontiguousarray(decoded[:, :height, :width])


PERTURBATIONS: dict[str, PerturbFunction] = {
    "jpeg": jpeg,
    "downscale": downscale,
    "blur": blur,
    "noise": noise,
    "brightness_contrast": brightness_contrast,
    "h264": h264,
}


def check_clip(frames: np.ndarray) -> None:
    """Refuse anything but a (T, H, W, 3) uint8 clip with at least one frame."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or not frames.size:
        raise ValueError(
            f"a clip is a non-empty (T, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}"
        )


def check_perturbations(perturbations: Mapping[str, Sequence[float]]) -> None:
    """Refuse unknown names, and severities a perturbation rejects (tried on a blank 8x8 clip)."""
    unknown = sorted(set(perturbations) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"unknown perturbation(s) {unknown}, choose from {sorted(PERTURBATIONS)}")
    blank = np.zeros((2, 8, 8, 3), np.uint8)
    for name, severities in perturbations.items():
        for severity in severities:
            PERTURBATIONS[name](blank, float(severity))


@dataclass(frozen=True)
class Perturbation:
    """The perturbation `name` at one `severity`: a picklable clip -> clip callable."""

    name: str
    severity: float

    def __post_init__(self) -> None:
        check_perturbations({self.name: [self.severity]})

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        check_clip(frames)
        return PERTURBATIONS[self.name](frames, self.severity)
