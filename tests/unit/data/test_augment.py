"""Face-part cutout: one part per clip, placed on the real face of a prepared crop."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
from PIL import Image

from dfd.data.augment import FACE_PARTS, FacePartCutout
from dfd.data.transforms import apply_to_clip, build_clip_transform
from dfd.datasets.manifest import frame_paths, ok_rows, read_manifest
from dfd.prepare.detectors.mtcnn import MtcnnDetector

MARGIN = 0.3  # PrepareSettings' default, which tiny_prepared uses
UPSCALE = 4  # MTCNN finds the landmarks of a 64 px crop more reliably at 256 px

# landmarks (MTCNN order: image-left eye, image-right eye, nose, mouth corners) that each part
# must cover, and those it must leave alone
COVERS = {
    "left_eye": ([0], [1, 2, 3, 4]),
    "right_eye": ([1], [0, 2, 3, 4]),
    "both_eyes": ([0, 1], [2, 3, 4]),
    "nose": ([2], [0, 1, 3, 4]),
    "mouth": ([3, 4], [0, 1, 2]),
    "upper_half": ([0, 1], [3, 4]),
    "lower_half": ([3, 4], [0, 1]),
    "left_half": ([0, 3], [1, 4]),
    "right_half": ([1, 4], [0, 3]),
}


def real_clip(manifest: Path, split: str = "test") -> np.ndarray:
    """The frames of the first real clip of a split, as (T, H, W, 3) uint8."""
    rows = ok_rows(read_manifest(manifest))
    row = rows[(rows["split"] == split) & (rows["label"] == 0)].iloc[0]
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB")) for p in frame_paths(row, manifest.parent)]
    )


@pytest.fixture(scope="module")
def face(tiny_prepared: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real face crop (never 0, so blanked pixels stand out) and its MTCNN landmarks."""
    crop = np.maximum(real_clip(tiny_prepared)[0], 1)
    size = crop.shape[0] * UPSCALE
    found = MtcnnDetector(min_face_size=20, max_side=None).detect(
        [cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)]
    )[0]
    assert len(found) == 1
    return crop, found.points[0] / UPSCALE


def test_covers_every_part() -> None:
    assert set(COVERS) == set(FACE_PARTS)


@pytest.mark.parametrize("part", FACE_PARTS)
def test_each_part_blanks_that_part_of_a_real_face(face, part: str) -> None:
    crop, points = face
    out = FacePartCutout(margin=MARGIN, parts=[part], p=1.0)(image=crop)["image"]
    blank = (out == 0).all(axis=-1)
    inside, outside = COVERS[part]
    x, y = np.round(points).astype(int).T
    assert blank[y[inside], x[inside]].all(), f"{part} missed its landmarks"
    assert not blank[y[outside], x[outside]].any(), f"{part} blanked another part"
    assert np.array_equal(out[~blank], crop[~blank]), "pixels outside the part changed"
    assert 0.01 < blank.mean() < 0.35


def test_one_part_per_clip_drawn_from_the_seed(tiny_prepared: Path) -> None:
    frames = np.maximum(real_clip(tiny_prepared, "train"), 1)
    transform = build_clip_transform(
        64, [{"_target_": "dfd.data.augment.FacePartCutout", "margin": MARGIN, "p": 1.0}]
    )
    masks = []
    for seed in range(12):
        clip = apply_to_clip(transform, frames, seed)
        blank = (clip == 0).all(dim=1).numpy()
        assert blank.any() and all(np.array_equal(blank[0], mask) for mask in blank[1:]), (
            "frames of one clip got different cutouts"
        )
        assert np.array_equal(apply_to_clip(transform, frames, seed).numpy(), clip.numpy())
        masks.append(blank[0])
    assert len({mask.tobytes() for mask in masks}) >= 4, "the part never varied with the seed"


def test_unknown_part_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown face part 'ear'"):
        FacePartCutout(parts=["ear"])


def test_works_inside_compose_with_probability() -> None:
    image = np.full((32, 32, 3), 200, np.uint8)
    transform = A.Compose([FacePartCutout(p=0.5)])
    blanked = 0
    for seed in range(40):
        transform.set_random_seed(seed)
        blanked += int((transform(image=image)["image"] == 0).any())
    assert 5 < blanked < 35
