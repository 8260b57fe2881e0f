"""SRM detector: the three SRM filters are the fixed rich-model kernels (checked against scipy
on a real face; blind to flat and linear shading; never trained); the streams' cross attention
mixes only through its learned gates; the detector composes through Hydra, trains on a real face
clip, and learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from scipy import ndimage

from dfd.models.zoo.cross_attention import CrossAttention
from dfd.models.zoo.srm import SRM, SRM_KERNELS, TRUNCATION, SRMFilters
from helpers.face_clips import face_clip, face_image
from helpers.learning import learn
from helpers.runs import compose_train


def test_srm_residuals_of_a_real_face_match_scipy() -> None:
    face = face_image(96).astype(np.float64) / 255 * 8  # a scale at which some residuals clip
    expected = [
        sum(ndimage.correlate(face[..., c], kernel, mode="constant") for c in range(3))
        for kernel in SRM_KERNELS.double().numpy()
    ]
    expected = np.clip(np.stack(expected), -TRUNCATION, TRUNCATION)
    residual = SRMFilters(3)(torch.from_numpy(face).permute(2, 0, 1)[None])[0]
    assert np.allclose(residual.numpy(), expected, atol=1e-9)
    # the face's smooth colour is gone (residuals ~10x smaller than the image), edges clip
    assert np.median(np.abs(expected)) < 0.1 * face.mean()
    assert (np.abs(expected) == TRUNCATION).any()


def test_srm_filters_remove_flat_and_linear_shading_and_are_not_learned() -> None:
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    shading = (0.3 + 0.01 * rows - 0.02 * cols).expand(1, 3, 32, 32)
    interior = SRMFilters(3)(shading)[..., 2:-2, 2:-2]
    assert interior.abs().max() < 1e-5
    per_channel = SRMFilters(4, per_channel=True)
    assert list(per_channel.parameters()) == [] and per_channel.state_dict() == {}
    features = torch.randn(1, 4, 16, 16)
    assert per_channel(features).shape == (1, 12, 16, 16)
    # channel c's residuals are its own: changing channel 1 changes outputs 3..5 only
    changed = features.clone()
    changed[:, 1] += torch.randn(16, 16)
    moved = (per_channel(changed) - per_channel(features)).abs().amax(dim=(0, 2, 3)) > 0
    assert moved.tolist() == [False] * 3 + [True] * 3 + [False] * 6


def test_cross_attention_mixes_the_streams_through_its_gates() -> None:
    torch.manual_seed(0)
    attention = CrossAttention(16, 24)
    a, b = torch.randn(2, 16, 8, 8), torch.randn(2, 24, 4, 4)
    same_a, same_b = attention(a, b)
    assert torch.equal(same_a, a) and torch.equal(same_b, b)  # gates start at zero
    with torch.no_grad():
        attention.gate.fill_(1.0)
    mixed_a, mixed_b = attention(a, b)
    assert mixed_a.shape == a.shape and mixed_b.shape == b.shape
    other_a, _ = attention(a, torch.randn_like(b))
    assert (other_a - mixed_a).abs().mean() > 1e-3  # a's output now depends on b


def test_composes_through_hydra_and_trains_on_a_real_face_clip(tmp_path: Path) -> None:
    cfg = compose_train(tmp_path, "model=srm")
    assert cfg.model.backbone == "legacy_xception"
    detector = instantiate(cfg.model)
    assert detector.weights_source() == "timm:legacy_xception"
    assert len(detector.rgb.units) == len(detector.noise.units) == 15
    clips = face_clip(size=64, frames=2, batch=2)
    logits, frames = detector.forward_with_frames(clips)
    assert logits.shape == (2,) and frames.shape == (2, 2)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in detector.parameters())
    assert detector.noise.units[0][0].weight.grad.abs().sum() > 0
    assert all(cross.gate.grad.abs().min() > 0 for cross in detector.cross.values())


def test_units_must_come_before_the_last() -> None:
    with pytest.raises(ValueError, match="unit 4 is not before the last"):
        SRM("resnet18", cross_units=(4,))


@pytest.mark.slow
def test_srm_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    # two resnet18 streams (5 units each) stand in for the two Xceptions on CPU
    srm = {
        "_target_": "dfd.models.zoo.srm.SRM",
        "backbone": "resnet18",
        "multiscale_units": [0, 1],
        "attention_unit": 1,
        "cross_units": [2, 3],
    }
    learned = learn(srm, learning_task, steps=150)
    print(f"SRM (2 x resnet18): {learned}")
    assert learned.last_loss < 0.7 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
