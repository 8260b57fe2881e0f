"""I3D inflates a 2D ResNet-50 (a weights file made offline, the path `pretrained` takes
online): on a still clip its features equal the 2D network's; it composes through Hydra, runs
forward and backward on real faces, and learns the zoo's task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torchvision.models import resnet50

from dfd.models.zoo.i3d import I3D
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train


def test_an_inflated_resnet50_sees_a_still_clip_as_the_2d_network_sees_its_frame(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    image_net = resnet50().eval()
    torch.save(image_net.state_dict(), tmp_path / "resnet50.pth")
    cfg = compose_train(tmp_path, "model=i3d", f"model.weights={tmp_path / 'resnet50.pth'}")
    detector = instantiate(cfg.model).eval()
    assert isinstance(detector, I3D) and "CVPR 2017" in detector.paper
    frame = face_clips(32, clip_len=1, batch=1)[:, 0]
    still = frame.unsqueeze(2).expand(-1, -1, 24, -1, -1)  # (1, 3, 24, 32, 32)
    with torch.no_grad():
        flat = torch.nn.Sequential(*list(image_net.children())[:-2])(frame)
        inflated = detector.backbone(still)[:, :, 12]  # far from the zero-padded ends
    torch.testing.assert_close(inflated, flat, rtol=1e-3, atol=1e-4 * flat.abs().max().item())
    torch.save({"fc.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="do not inflate"):
        I3D(weights=str(tmp_path / "other.pth"))


def test_forward_and_backward_on_real_faces() -> None:
    detector = I3D(depths=(1, 1), width=8).train()
    logits = detector(face_clips(32, clip_len=4))
    assert logits.shape == (2,)
    logits.sum().backward()
    for name, parameter in detector.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert detector.input_spec.max_frame_stride == 1


@pytest.mark.slow
def test_i3d_learns_real_faces_against_their_self_blends(learning_task: Path) -> None:
    i3d = {"_target_": "dfd.models.zoo.i3d.I3D", "depths": [1, 1], "width": 16}
    learned = learn(i3d, learning_task, steps=100, clip_len=4)
    print(f"I3D (2-stage inflated ResNet): {learned}")
    # measured 0.692 -> 0.564 (val AUC 0.740) here, 0.692 -> 0.603 (0.666) on the CI machine:
    # the same seed, different thread counts; the bar of the other video detectors
    assert learned.last_loss < 0.9 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
