"""FaceForensics++'s Xception is Xception's architecture (Chollet: 36 convolutions, 34 of them
depthwise separable, in an entry flow, eight middle blocks and an exit flow), composes through
Hydra, runs forward and backward on a real face, loads ImageNet weights from a file made
offline through the same path as online ones, and learns the zoo's task."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from dfd.models.zoo.xception import Xception
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train


def build(tmp_path: Path, *overrides: str) -> Xception:
    detector = instantiate(compose_train(tmp_path, "model=xception", *overrides).model)
    assert isinstance(detector, Xception)
    return detector


def depthwise(module: nn.Module) -> list[nn.Conv2d]:
    """The depthwise 3x3 convolutions under `module` (one per separable convolution)."""
    return [
        m for m in module.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1
    ]


def test_it_is_xceptions_architecture(tmp_path: Path) -> None:
    detector = build(tmp_path)
    convs = [m for m in detector.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert (len(convs), len(depthwise(detector))) == (36, 34)
    middle = [detector.backbone.model.get_submodule(f"block{i}") for i in range(4, 12)]
    assert [len(depthwise(block)) for block in middle] == [3] * 8
    assert all(block.skip is None for block in middle)  # identity shortcuts
    assert detector.backbone.num_features == 2048
    assert detector.weights_source() == "timm:legacy_xception" and "ICCV 2019" in detector.paper


def test_forward_and_backward_on_a_real_face(tmp_path: Path) -> None:
    detector = build(tmp_path).train()
    clip_logits, frame_logits = detector.forward_with_frames(face_clips(64, clip_len=3))
    assert clip_logits.shape == (2,) and frame_logits.shape == (2, 3)
    clip_logits.sum().backward()
    for name, parameter in detector.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    detector.check_input(8, 7)
    with pytest.raises(ValueError, match="image_size >= 7"):
        detector.check_input(8, 6)


def test_imagenet_weights_load_from_a_file_made_offline(tmp_path: Path) -> None:
    imagenet = timm.create_model("legacy_xception", pretrained=False)  # with its 1000-way fc
    torch.save(imagenet.state_dict(), tmp_path / "xception.pth")
    detector = build(tmp_path, f"model.weights={tmp_path / 'xception.pth'}")
    loaded = detector.backbone.model.state_dict()
    expected = {k: v for k, v in imagenet.state_dict().items() if not k.startswith("fc.")}
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[key], expected[key]) for key in expected)


@pytest.mark.slow
def test_xception_learns_real_faces_against_their_self_blends(
    tmp_path: Path, learning_task: Path
) -> None:
    config = OmegaConf.to_container(compose_train(tmp_path, "model=xception").model)
    learned = learn(config, learning_task, steps=150)
    print("xception", learned)
    assert learned.last_loss < 0.6 * learned.first_loss, learned
    assert learned.val_auc >= 0.7, learned
