"""Perturbations of face clips for the robustness protocol, checked on real face crops."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest

from dfd.data.datamodule import FaceClipDataModule
from dfd.eval.perturbations import (
    DEFAULT_SEVERITIES,
    PERTURBATIONS,
    Perturbation,
    brightness_contrast,
    check_perturbations,
    h264,
    noise,
)

IDENTITIES = {"downscale": 1, "blur": 0, "noise": 0, "brightness_contrast": 0}


@pytest.fixture(scope="module")
def faces(tiny_prepared: Path) -> np.ndarray:
    """Four real 64 px face crops of one test video, (4, 64, 64, 3) uint8."""
    dm = FaceClipDataModule(str(tiny_prepared), clip_len=4, image_size=64, num_workers=0)
    frames, _ = dm.dataset("test").raw(0)
    assert frames.shape[0] == 4 and frames.dtype == np.uint8
    return frames


def psnr(original: np.ndarray, changed: np.ndarray) -> float:
    mse = np.mean((original.astype(np.float64) - changed) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_shape_dtype_kept_and_input_untouched(faces: np.ndarray, name: str) -> None:
    before = faces.copy()
    for severity in DEFAULT_SEVERITIES[name]:
        out = PERTURBATIONS[name](faces, severity)
        assert out.shape == faces.shape and out.dtype == np.uint8
        assert out is not faces
    assert np.array_equal(faces, before)


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_stronger_severity_changes_the_crops_more(faces: np.ndarray, name: str) -> None:
    quality = [psnr(faces, PERTURBATIONS[name](faces, s)) for s in DEFAULT_SEVERITIES[name]]
    assert np.isfinite(quality[0]), f"{name} at its mildest default left the crops unchanged"
    assert all(a > b for a, b in itertools.pairwise(quality)), f"{name} PSNRs {quality}"


@pytest.mark.parametrize("name,severity", sorted(IDENTITIES.items()))
def test_identity_severities_leave_the_clip_alone(
    faces: np.ndarray, name: str, severity: float
) -> None:
    assert np.array_equal(PERTURBATIONS[name](faces, severity), faces)


def test_best_quality_codecs_are_near_lossless(faces: np.ndarray) -> None:
    assert psnr(faces, PERTURBATIONS["jpeg"](faces, 100)) > 40
    assert psnr(faces, h264(faces, 0)) > 35  # yuv420p halves the chroma resolution


def test_noise_reproduces_per_clip(faces: np.ndarray) -> None:
    assert np.array_equal(noise(faces, 10), noise(faces, 10))
    assert not np.array_equal(noise(faces, 10), noise(faces[::-1].copy(), 10)[::-1])
    assert not np.array_equal(noise(faces, 10, seed=1), noise(faces, 10, seed=2))
    grey = np.full((2, 64, 64, 3), 128, np.uint8)
    drawn = noise(grey, 10).astype(np.float64) - 128
    assert abs(drawn.mean()) < 0.3 and abs(drawn.std() - 10) < 0.3


def test_h264_round_trips_real_and_odd_sized_clips(faces: np.ndarray) -> None:
    assert h264(faces, 30).shape == faces.shape
    odd = np.ascontiguousarray(np.concatenate([faces, faces[:1]])[:, :33, :47])
    out = h264(odd, 30)
    assert out.shape == (5, 33, 47, 3) and out.dtype == np.uint8
    assert psnr(odd, out) > 25
    assert h264(faces[:1, :9, :7].copy(), 23).shape == (1, 9, 7, 3)


def test_brightness_contrast_washes_the_clip_out(faces: np.ndarray) -> None:
    out = brightness_contrast(faces, 0.4).astype(np.float64)
    assert out.mean() > faces.mean() + 20
    assert out.std() < 0.7 * faces.std()


@pytest.mark.parametrize(
    "name,severity",
    [
        ("jpeg", 0),
        ("jpeg", 101),
        ("downscale", 0.5),
        ("blur", -1),
        ("noise", -2),
        ("h264", 52),
        ("brightness_contrast", 1.0),
    ],
)
def test_invalid_severities_refused(name: str, severity: float) -> None:
    with pytest.raises(ValueError, match=name):
        check_perturbations({name: [severity]})


def test_bound_perturbation_pickles_and_checks_clips(faces: np.ndarray) -> None:
    bound = pickle.loads(pickle.dumps(Perturbation("h264", 30)))
    assert np.array_equal(bound(faces), h264(faces, 30))  # one x264 thread: deterministic
    with pytest.raises(ValueError, match="uint8"):
        bound(faces.astype(np.float32))
    with pytest.raises(ValueError, match="choose from"):
        Perturbation("sharpen", 1)
