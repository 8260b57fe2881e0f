"""Self-blended fakes made on the fly from prepared face crops (the SBI training recipe).

A detector trained on a few fixed fakes can memorise them; blending a freshly altered copy
of a real face into itself at every draw gives it endless fakes whose only common trait is
the blending, which is what it should learn. Crops hold no landmarks, so the face's 5 points
are placed where a face sits in a crop made by `dfd.prepare` (box centred, `margin` per side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dfd.data.selfblend.blend import BLEND_STYLES, self_blend_with_mask

# eyes, nose, mouth corners of an upright face, relative to its detection box
BOX_LANDMARKS = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.58], [0.36, 0.76], [0.64, 0.76]])


def crop_landmarks(size: int, margin: float) -> np.ndarray:
    """Approximate 5 landmarks of the face centred in a square crop with `margin` per side."""
    box = size / (1.0 + 2.0 * margin)
    return (size - box) / 2.0 + BOX_LANDMARKS * box


@dataclass(frozen=True)
class OnlineSelfBlend:
    """Turns a real clip into a self-blended fake with probability `prob` (one draw per clip)."""

    prob: float = 0.5
    margin: float = 0.3  # the `prepare.margin` the crops were made with
    jitter: float = 0.03  # random shift of the landmarks, as a fraction of the crop
    style: str = "demo"  # parameter ranges: "demo" (clear changes) or "sbi" (the paper's)

    def __post_init__(self) -> None:
        if self.style not in BLEND_STYLES:
            raise ValueError(
                f"unknown self-blend style '{self.style}': choose from {sorted(BLEND_STYLES)}"
            )

    def __call__(
        self, frames: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Blended (T, H, W, 3) frames and their blend mask (H, W) in [0, 1] (see
        `self_blend_with_mask`), or None when this draw leaves the clip real."""
        if rng.random() >= self.prob:
            return None
        size = frames.shape[1]
        points = crop_landmarks(size, self.margin) + rng.uniform(-1, 1, (5, 2)) * self.jitter * size
        params = BLEND_STYLES[self.style](rng)
        return self_blend_with_mask(frames, points, params)
