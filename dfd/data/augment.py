"""Face-part cutout: blank an eye, the nose, the mouth or half of the face (DFDC-winner style).

A detector that leans on one facial feature (say, the eyes' blending seam) is forced to look
at the rest of the face when that feature is sometimes missing. Crops carry no landmarks, so
the parts are placed where `dfd.prepare` puts a face in its crops (`crop_landmarks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import numpy as np

from dfd.data.selfblend.online import crop_landmarks

# sides as seen in the image (the subject's right eye is the image's left eye)
FACE_PARTS = (
    "left_eye",
    "right_eye",
    "both_eyes",
    "nose",
    "mouth",
    "upper_half",
    "lower_half",
    "left_half",
    "right_half",
)

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width and height


def face_part_box(part: str, margin: float) -> Box:
    """The region of `part` in a crop made with `margin`, as fractions of the crop's size.

    Feature boxes are sized by the eye distance `d`; halves split the face box (the crop
    without its margins) at the nose.
    """
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = crop_landmarks(1, margin)
    d = rx - lx
    eye_y = (ly + ry) / 2
    mouth_y = (mly + mry) / 2
    f0, f1 = margin / (1 + 2 * margin), (1 + margin) / (1 + 2 * margin)
    boxes: dict[str, Box] = {
        "left_eye": (lx - 0.4 * d, ly - 0.25 * d, lx + 0.4 * d, ly + 0.25 * d),
        "right_eye": (rx - 0.4 * d, ry - 0.25 * d, rx + 0.4 * d, ry + 0.25 * d),
        "both_eyes": (lx - 0.4 * d, eye_y - 0.25 * d, rx + 0.4 * d, eye_y + 0.25 * d),
        "nose": (nx - 0.3 * d, eye_y + 0.2 * d, nx + 0.3 * d, ny + 0.25 * d),
        "mouth": (mlx - 0.25 * d, mouth_y - 0.25 * d, mrx + 0.25 * d, mouth_y + 0.3 * d),
        "upper_half": (f0, f0, f1, ny),
        "lower_half": (f0, ny, f1, f1),
        "left_half": (f0, f0, nx, f1),
        "right_half": (nx, f0, f1, f1),
    }
    if part not in boxes:
        raise ValueError(f"unknown face part '{part}' (one of {FACE_PARTS})")
    return boxes[part]


def blank_box(image: np.ndarray, box: Box, fill: float) -> np.ndarray:
    """A copy of the image with the fractional `box` set to `fill`."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    out = image.copy()
    out[
        max(round(y0 * height), 0) : max(round(y1 * height), 0),
        max(round(x0 * width), 0) : max(round(x1 * width), 0),
    ] = fill
    return out


class FacePartCutout(A.ImageOnlyTransform):
    """Blanks one face part drawn from `parts` (all frames of a clip get the same part).

    Place it before geometric steps so the face is still where `margin` puts it.

    Args:
        margin: the `prepare.margin` the crops were made with (`datamodule.crop_margin`).
        parts: the parts to draw from, uniformly (default: all of `FACE_PARTS`).
        fill: the value blanked pixels get.
        p: probability of blanking a part.
    """

    def __init__(
        self,
        margin: float = 0.3,
        parts: Sequence[str] = FACE_PARTS,
        fill: float = 0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.margin = margin
        self.parts = tuple(parts)
        self.fill = fill
        for part in self.parts:
            face_part_box(part, margin)  # fail at construction on an unknown name

    def get_params(self) -> dict[str, Any]:
        return {"part": self.parts[int(self.random_generator.integers(len(self.parts)))]}

    def apply(self, img: np.ndarray, part: str, **params: Any) -> np.ndarray:
        return blank_box(img, face_part_box(part, self.margin), self.fill)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("margin", "parts", "fill")
