"""FTCN's 3D ResNet is temporal-only (every spatial kernel 1, so a location's output depends on
its own pixel's history only), composes through Hydra as a ResNet-50 with a temporal
transformer, runs forward and backward on real faces, and, trained on the zoo's task, stays
blind to its cue, a blending boundary that is the same in every frame (see FTCN's docstring)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from dfd.models.zoo.ftcn import FTCN
from dfd.models.zoo.resnet3d import ResNet3d
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train

TINY = {"depths": [1, 1], "width": 8, "head_dim": 32, "head_heads": 4}


def test_every_spatial_kernel_is_one_and_time_is_convolved(tmp_path: Path) -> None:
    detector = instantiate(compose_train(tmp_path, "model=ftcn").model)
    assert isinstance(detector, FTCN) and "ICCV 2021" in detector.paper
    convs = [m for m in detector.backbone.modules() if isinstance(m, nn.Conv3d)]
    assert len(convs) == 1 + 16 * 3 + 4  # stem, 16 bottlenecks, 4 projections: ResNet-50
    assert all(conv.kernel_size[1:] == (1, 1) for conv in convs)
    assert {conv.kernel_size[0] for conv in convs} == {1, 3, 5}
    assert detector.backbone.num_features == 2048
    assert detector.input_spec.native_clip_len == 16 and detector.input_spec.max_frame_stride == 1


def test_a_location_sees_only_its_own_pixel_s_history() -> None:
    net = ResNet3d([1, 1], 8, spatial_kernel=1).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    changed = clip.clone()
    changed[..., 0, 0] += 10.0  # one pixel, every frame: only output location (0, 0) sees it
    difference = (net(changed) - net(clip)).abs().sum(dim=(0, 1, 2))
    assert difference[0, 0] > 0 and difference.flatten()[1:].abs().max() == 0


def test_forward_and_backward_on_real_faces() -> None:
    detector = FTCN(**TINY).train()
    logits = detector(face_clips(64, clip_len=4))
    assert logits.shape == (2,)
    logits.sum().backward()
    for name, parameter in detector.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    with pytest.raises(ValueError, match="clip_len >= 2"):
        detector.check_input(1, 64)


@pytest.mark.slow
def test_ftcn_is_blind_to_a_blend_that_does_not_change_over_time(learning_task: Path) -> None:
    # measured here: loss 0.699 -> 0.702, val AUC 0.505 (a resnet18 per frame reaches 0.64+)
    ftcn = {"_target_": "dfd.models.zoo.ftcn.FTCN", **TINY}
    learned = learn(ftcn, learning_task, steps=150, clip_len=4)
    print(f"FTCN (tiny): {learned}")
    assert learned.last_loss > 0.9 * learned.first_loss, learned  # nothing temporal to fit
    assert learned.val_auc < 0.6, learned
