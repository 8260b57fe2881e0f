"""SPSL: the phase image is the grey face's phase-only reconstruction (checked against numpy),
blind to the amplitude spectrum and moving with the face; the shallow network keeps only the
first units; the detector composes through Hydra, trains on a real face clip, and learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dfd.models.zoo.spsl import LUMA, SPSL, phase_image
from helpers.face_clips import face_clip, face_image
from helpers.learning import learn
from helpers.runs import compose_train


def face_tensor(size: int = 96) -> torch.Tensor:
    return torch.from_numpy(face_image(size)).permute(2, 0, 1)[None].double() / 255


def test_phase_image_is_the_phase_only_reconstruction_of_the_grey_face() -> None:
    image = face_tensor()
    grey = np.einsum("chw,c->hw", image[0].numpy(), np.array(LUMA))
    expected = np.fft.ifft2(np.exp(1j * np.angle(np.fft.fft2(grey)))).real
    expected = (expected - expected.mean()) / expected.std(ddof=1)
    assert np.allclose(phase_image(image)[0, 0].numpy(), expected, atol=1e-6)


def test_phase_image_ignores_the_amplitude_spectrum_and_follows_the_face() -> None:
    image = face_tensor()
    # a Gaussian blur (a real, symmetric, positive frequency response) changes only amplitudes
    fy, fx = np.meshgrid(np.fft.fftfreq(96), np.fft.fftfreq(96), indexing="ij")
    response = torch.from_numpy(np.exp(-20 * (fy**2 + fx**2)))
    blurred = torch.fft.ifft2(torch.fft.fft2(image) * response).real
    assert (blurred - image).abs().mean() > 0.01
    assert torch.allclose(phase_image(blurred), phase_image(image), atol=1e-6)
    # a different image has a different phase image; a shifted face, a shifted phase image
    assert (phase_image(image.flip(-1)) - phase_image(image)).abs().mean() > 0.1
    shifted = phase_image(image.roll((7, -5), dims=(-2, -1)))
    assert torch.allclose(shifted, phase_image(image).roll((7, -5), dims=(-2, -1)), atol=1e-6)


def test_shallow_network_keeps_the_entry_flow_of_xception() -> None:
    detector = SPSL("legacy_xception", depth=4)
    assert len(detector.backbone.units) == 4
    assert detector.backbone.channels[-1] == 728 and detector.backbone.reductions[-1] == 16
    assert detector.backbone.units[0][0].in_channels == 4  # RGB + phase
    assert detector.classifier.in_features == 728
    with pytest.raises(ValueError, match="depth must be 1..15"):
        SPSL("legacy_xception", depth=16)


def test_composes_through_hydra_and_trains_on_a_real_face_clip(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "model=spsl")
    assert cfg.model.backbone == "legacy_xception" and cfg.model.depth == 4
    detector = instantiate(cfg.model)
    assert detector.weights_source() == "timm:legacy_xception"
    clips = face_clip(size=64, frames=2, batch=2)
    logits, frames = detector.forward_with_frames(clips)
    assert logits.shape == (2,) and frames.shape == (2, 2)
    assert torch.allclose(logits, frames.mean(dim=1))
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in detector.parameters())
    assert detector.backbone.units[0][0].weight.grad[:, 3].abs().sum() > 0  # the phase is used


@pytest.mark.slow
def test_spsl_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    # resnet18's first 3 units (stem, layer1, layer2) keep it shallow and fast on CPU
    spsl = {"_target_": "dfd.models.zoo.spsl.SPSL", "backbone": "resnet18", "depth": 3}
    learned = learn(spsl, learning_task, steps=150)
    print(f"SPSL (resnet18, 3 units): {learned}")
    assert learned.last_loss < 0.7 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
