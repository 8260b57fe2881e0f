"""Face swap: a donor face rendered at a generator's resolution, aligned onto the target by a
5-point similarity transform, colour-matched in LAB inside the mask and pasted through a
feathered mask.

The rendering step stands for the generator of a real face swap: autoencoder deepfakes
produce the face at a fixed small size (64 px in FaceForensics++'s DeepFakes) that is then
scaled up into faces of about 120 to 250 px, so the pasted face is softer than the frame around
it. Without it the demo pasted a full-resolution photograph, a swap no generator makes.

The rendered size is a fraction of the target's face (0.3 to 0.5, as 64 px is of those faces),
not a number of pixels: with a fixed 64 to 128 px, a big face got a soft swap and a small one a
sharp swap, so how findable a person's swaps were depended on how large the person was filmed
(measured on the demo's test split: swaps rendered at under half the face's size scored a video
AUC of 0.78 against the reals, those above it 0.44 to 0.66).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dfd.data.selfblend.masks import MaskParams, face_mask, face_mask_region, sample_mask_params


@dataclass(frozen=True)
class Donor:
    """One RGB image of the donor identity with its landmarks."""

    name: str
    image: np.ndarray
    points: np.ndarray  # (5, 2)


@dataclass(frozen=True)
class SwapParams:
    """One face swap: the paste mask, the blend ratio at its peak and the size at which the
    donor face is rendered before it is scaled to the target, as a fraction of the target's
    face size."""

    ratio: float
    mask: MaskParams
    render_fraction: float = 0.4


def sample_swap_params(rng: np.random.Generator) -> SwapParams:
    """A random mask shape, a strong blend ratio and a generator's face size (0.3 to 0.5 of the
    target's)."""
    return SwapParams(
        ratio=float(rng.uniform(0.85, 1.0)),
        mask=sample_mask_params(rng),
        render_fraction=float(rng.uniform(0.3, 0.5)),
    )


def face_extent(points: np.ndarray) -> float:
    """The face's side in pixels, about twice the spread of its 5 landmarks."""
    return 2.0 * float(np.ptp(np.asarray(points, np.float32), axis=0).max())


def render(donor: Donor, size: float) -> Donor:
    """The donor as a generator would give it: its face `size` pixels across (never larger
    than the photo has it)."""
    factor = size / max(face_extent(donor.points), 1.0)
    if factor >= 1.0:
        return donor
    height, width = donor.image.shape[:2]
    small = cv2.resize(
        donor.image,
        (max(round(width * factor), 1), max(round(height * factor), 1)),
        interpolation=cv2.INTER_AREA,
    )
    return Donor(donor.name, small, np.asarray(donor.points, np.float32) * factor)


def rendered_size(points: np.ndarray, params: SwapParams) -> float:
    """The side at which the generator renders the donor's face for a clip whose landmarks are
    ``points`` (T, 5, 2): ``params.render_fraction`` of the target's median face size."""
    return params.render_fraction * float(np.median([face_extent(p) for p in points]))


def similarity(source_points: np.ndarray, target_points: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, translation) from 5 landmarks."""
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(source_points, np.float32),
        np.asarray(target_points, np.float32),
        method=cv2.LMEDS,
    )
    if matrix is None:
        raise ValueError("no similarity transform fits these landmarks")
    return matrix


CORE = MaskParams(scale_x=0.7, scale_y=0.75, feather=0.01)


def match_colours(source: np.ndarray, target: np.ndarray, select: np.ndarray) -> np.ndarray:
    """Shift source's LAB mean/std per channel to target's, both measured where select is True."""
    if select.sum() < 16:
        return source.astype(np.float32)
    where = select.astype(np.uint8)
    src = cv2.cvtColor(source.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    tgt = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    s_mean, s_std = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(src, mask=where))
    t_mean, t_std = (v.ravel().astype(np.float32) for v in cv2.meanStdDev(tgt, mask=where))
    matched = (src - s_mean) * (t_std / (s_std + 1e-3)) + t_mean
    matched[..., 0] = np.clip(matched[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(matched, cv2.COLOR_LAB2RGB) * 255.0, 0, 255)


def swap_face(
    frame: np.ndarray,
    points: np.ndarray,
    donor: Donor,
    params: SwapParams,
    donor_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Paste the donor's face onto the RGB frame; pixels off the mask are untouched.

    The paste weight is the target's mask times the donor's own mask (`face_mask` of the
    donor under params.mask, computed when not given) carried over by the same transform,
    so the donor's background never lands on the target's face.
    """
    mask, (x0, y0, x1, y1) = face_mask_region(frame.shape, points, params.mask)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    if donor_mask is None:
        donor_mask = face_mask(donor.image.shape, donor.points, params.mask)
    warp = similarity(donor.points, points)
    warp[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(
        donor.image, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    inside = cv2.warpAffine(donor_mask, warp, size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    region = frame[y0:y1, x0:x1]
    weight = mask * inside
    core = face_mask(frame.shape, points, CORE)[y0:y1, x0:x1] > 0.5
    pasted = match_colours(warped, region, core & (inside > 0.99))
    alpha = params.ratio * weight[..., None]
    out[y0:y1, x0:x1] = (
        np.clip(region * (1 - alpha) + pasted * alpha, 0, 255).round().astype(np.uint8)
    )
    return out


def swap_clip(
    frames: np.ndarray, points: np.ndarray, donor: Donor, rng: np.random.Generator
) -> tuple[np.ndarray, SwapParams]:
    """Swap the donor, rendered at a generator's size, into every frame of a clip with one
    parameter draw."""
    params = sample_swap_params(rng)
    donor = render(donor, rendered_size(points, params))
    donor_mask = face_mask(donor.image.shape, donor.points, params.mask)
    return np.stack(
        [swap_face(f, p, donor, params, donor_mask) for f, p in zip(frames, points)]
    ), params
