"""F3Net: the DCT is scipy's on a real face; FAD splits a face into bands that add back up to it
and puts a cosine in the band of its frequency; LFS is the log band magnitude of each window's
DCT (checked against scipy at one window); both filters learn; the detector composes through
Hydra at the datamodule's image size, trains on a real face clip, and learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from scipy import fft

from dfd.models.zoo.dct import dct2, idct2
from dfd.models.zoo.f3net import F3Net, FrequencyAwareDecomposition, LocalFrequencyStatistics
from dfd.models.zoo.spsl import LUMA
from helpers.face_clips import face_clip, face_image
from helpers.learning import learn
from helpers.runs import compose_train


def face_tensor(size: int = 64) -> torch.Tensor:
    return torch.from_numpy(face_image(size)).permute(2, 0, 1)[None].double() / 255


def test_dct_is_scipys_orthonormal_dct_on_a_real_face() -> None:
    face = face_tensor(64)
    expected = fft.dctn(face.numpy(), type=2, norm="ortho", axes=(-2, -1))
    assert np.allclose(dct2(face).numpy(), expected, atol=1e-10)
    window = face[..., 10:20, 30:40]  # LFS's 10 x 10 windows, and a non-square crop
    assert np.allclose(dct2(window).numpy(), fft.dctn(window.numpy(), norm="ortho", axes=(-2, -1)))
    crop = face[..., :48, :]
    assert np.allclose(dct2(crop).numpy(), fft.dctn(crop.numpy(), norm="ortho", axes=(-2, -1)))
    assert torch.allclose(idct2(dct2(face)), face, atol=1e-12)


@torch.no_grad()
def test_fad_bands_add_up_to_the_face_and_hold_a_cosine_in_its_band() -> None:
    fad = FrequencyAwareDecomposition(64).double()
    face = face_tensor(64)
    low, middle, high, whole = fad(face).reshape(1, 4, 3, 64, 64).unbind(1)
    assert torch.allclose(whole, face, atol=1e-12)  # the "all" band, filters at their start
    assert torch.allclose(low + middle + high, face, atol=1e-12)
    assert (high.abs().mean() < low.abs().mean()) and high.abs().mean() > 1e-3
    # a DCT basis image of frequency (u, v) lands in the band of u + v (bands cut at 4 and 8)
    for (u, v), band in [((1, 2), 0), ((3, 2), 1), ((6, 9), 2)]:
        spectrum = torch.zeros(1, 3, 64, 64, dtype=torch.float64)
        spectrum[..., u, v] = 1.0
        bands = fad(idct2(spectrum)).reshape(4, 3, 64, 64)
        energy = bands[:3].pow(2).sum(dim=(1, 2, 3))
        assert energy.argmax() == band and energy.sum() == pytest.approx(energy[band].item())


@torch.no_grad()
def test_lfs_is_the_log_band_magnitude_of_each_windows_dct() -> None:
    lfs = LocalFrequencyStatistics(window=10, stride=2, bands=6).double()
    face = face_tensor(64)
    stats = lfs(face)
    assert stats.shape == (1, 6, 32, 32)
    # window (row 10, col 12) starts at pixel (2*10 - 4, 2*12 - 4) of the padded grey face
    grey = np.einsum("chw,c->hw", face[0].numpy(), np.array(LUMA))
    magnitude = np.abs(fft.dctn(grey[16:26, 20:30], norm="ortho"))
    diagonal = np.add.outer(np.arange(10), np.arange(10))
    for band in range(6):
        inside = (diagonal >= band * 19 / 6) & (diagonal < (band + 1) * 19 / 6)
        expected = np.log10(magnitude[inside].mean() + 1e-6)
        assert stats[0, band, 10, 12].item() == pytest.approx(expected, abs=1e-9)
    # a flat face has energy at the DC coefficient only: the first band alone stands out
    flat = lfs(torch.full((1, 3, 64, 64), 0.5, dtype=torch.float64))[0, :, 16, 16]
    assert flat[0] > -1 and (flat[1:] < -5).all()


def test_composes_through_hydra_at_the_datamodule_size_and_trains_on_a_real_face_clip(
    tmp_path: Path,
) -> None:
    cfg = compose_train(tmp_path, "model=f3net", "datamodule.image_size=64")
    assert cfg.model.image_size == 64 and cfg.model.backbone == "legacy_xception"
    detector = instantiate(cfg.model)
    assert detector.weights_source() == "timm:legacy_xception"
    assert detector.fad_stream.units[0][0].in_channels == 12
    assert detector.lfs_stream.units[0][0].in_channels == 6
    detector.check_input(4, 64)
    with pytest.raises(ValueError, match="image_size == 64"):
        detector.check_input(4, 96)
    clips = face_clip(size=64, frames=2, batch=2)
    logits, frames = detector.forward_with_frames(clips)
    assert logits.shape == (2,) and frames.shape == (2, 2)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in detector.parameters())
    assert detector.fad.filters.weight.grad.abs().sum() > 0  # the band filters learn
    assert detector.lfs.filters.weight.grad.abs().sum() > 0
    assert all(mix.gate.grad.abs().min() > 0 for mix in detector.mix.values())


def test_mix_units_must_exist() -> None:
    with pytest.raises(ValueError, match="mix unit 5 is not one of resnet18's 5"):
        F3Net(64, "resnet18", mix_units=(5,))


@pytest.mark.slow
def test_f3net_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    # two resnet18 streams (5 units each) stand in for the two Xceptions on CPU
    f3net = {
        "_target_": "dfd.models.zoo.f3net.F3Net",
        "image_size": 64,
        "backbone": "resnet18",
        "mix_units": [2, 3],
    }
    learned = learn(f3net, learning_task, steps=150)
    print(f"F3Net (2 x resnet18): {learned}")
    assert learned.last_loss < 0.7 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
