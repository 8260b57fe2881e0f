"""MesoNet (Meso4, MesoInception4) is the paper's: its parameter counts, its 4x4 pooling at
256 px; it runs forward and backward on a real face at the paper's size and at the sizes users
train at, scores a clip by its frames' mean probability, composes through Hydra, loads a
DeepfakeBench Meso4 checkpoint (a network named and run as its code does) with the same scores,
and learns the zoo's task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from dfd.models.weights import deepfakebench_meso4_to_dfd
from dfd.models.zoo.mesonet import Meso4, MesoInception4, MesoNet, mean_probability_logit
from helpers.face_clips import face_clips
from helpers.learning import learn
from helpers.runs import compose_train

# trainable parameters, MesoNet paper section 3
PAPER_COUNTS = {"meso4": 27_977, "meso_inception4": 28_615}


@pytest.mark.parametrize("option", sorted(PAPER_COUNTS))
def test_composes_with_the_papers_parameter_count(tmp_path: Path, option: str) -> None:
    detector = instantiate(compose_train(tmp_path, f"model={option}").model)
    assert isinstance(detector, MesoNet)
    trainable = sum(p.numel() for p in detector.parameters() if p.requires_grad)
    assert trainable == PAPER_COUNTS[option]
    assert "WIFS 2018" in detector.paper and detector.weights_source() == "none"


@pytest.mark.parametrize("size", [64, 256])
@pytest.mark.parametrize("network", [Meso4, MesoInception4])
def test_forward_and_backward_on_a_real_face(network: type[MesoNet], size: int) -> None:
    detector = network().train()
    clip_logits, frame_logits = detector.forward_with_frames(face_clips(size, clip_len=3))
    assert clip_logits.shape == (2,) and frame_logits.shape == (2, 3)
    clip_logits.sum().backward()
    for name, parameter in detector.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name


def test_at_the_papers_size_the_last_pooling_is_its_4x4_max_pooling() -> None:
    detector = Meso4().eval()
    with torch.no_grad():
        fourth = detector.features[:-1](face_clips(256).flatten(0, 1))
        assert fourth.shape[1:] == (16, 32, 32)
        assert torch.equal(detector.features[-1](fourth), F.max_pool2d(fourth, 4))


def test_a_clip_scores_the_mean_of_its_frames_probabilities() -> None:
    detector = MesoInception4().eval()
    with torch.no_grad():
        clip_logits, frame_logits = detector.forward_with_frames(face_clips(64, clip_len=4))
    torch.testing.assert_close(torch.sigmoid(clip_logits), torch.sigmoid(frame_logits).mean(1))
    # certain frames do not saturate: one sure fake and one sure real frame make an even clip
    extreme = mean_probability_logit(torch.tensor([[60.0, -60.0], [60.0, 60.0]]))
    torch.testing.assert_close(extreme, torch.tensor([0.0, 60.0]))


def test_sizes_below_its_head_map_are_refused_naming_the_setting() -> None:
    Meso4().check_input(8, 64)
    with pytest.raises(ValueError, match=r"image_size >= 64.*datamodule.image_size=64"):
        Meso4().check_input(8, 48)


class DeepfakeBenchMeso4(nn.Module):
    """DeepfakeBench's Meso4 network with its attribute names, run in its order (from reading
    its `networks/mesonet.py`): bias-free convolutions, each followed by ReLU, a batch norm
    (`bn1` serves blocks 1-2, `bn2` blocks 3-4) and max pooling (2, 2, 2, then 4); a dense
    head with two outputs (real, fake)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(8, 8, 5, padding=2, bias=False)
        self.conv3 = nn.Conv2d(8, 16, 5, padding=2, bias=False)
        self.conv4 = nn.Conv2d(16, 16, 5, padding=2, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(8), nn.BatchNorm2d(16)
        self.fc1, self.fc2 = nn.Linear(16 * 8 * 8, 16), nn.Linear(16, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        stages = [(self.conv1, self.bn1, 2), (self.conv2, self.bn1, 2)]
        stages += [(self.conv3, self.bn2, 2), (self.conv4, self.bn2, 4)]
        x = images
        for conv, norm, pool in stages:
            x = F.max_pool2d(norm(F.relu(conv(x))), pool)
        return self.fc2(F.leaky_relu(self.fc1(x.flatten(1)), 0.1))


def deepfakebench_meso4_detector() -> nn.Module:
    """Its detector's modules as they are saved (`backbone.` + the network), batch norms with
    trained-looking statistics so that sharing them matters."""
    torch.manual_seed(0)
    detector = nn.ModuleDict({"backbone": DeepfakeBenchMeso4()})
    for norm in (detector.backbone.bn1, detector.backbone.bn2):
        nn.init.normal_(norm.weight, 1.0, 0.2)
        nn.init.normal_(norm.bias, 0.0, 0.2)
        norm.running_mean.normal_(0.0, 0.2)
        norm.running_var.uniform_(0.5, 2.0)
        norm.num_batches_tracked.fill_(7)
    return detector.eval()


def test_a_deepfakebench_meso4_checkpoint_loads_with_its_scores(tmp_path: Path) -> None:
    theirs = deepfakebench_meso4_detector()
    torch.save(theirs.state_dict(), tmp_path / "ckpt_best.pth")
    detector = instantiate(
        compose_train(
            tmp_path,
            "model=meso4",
            f"model.detector_weights={tmp_path / 'ckpt_best.pth'}",
            "model.key_map=deepfakebench_meso4",
        ).model
    ).eval()
    assert isinstance(detector, Meso4)
    clips = face_clips(256, clip_len=1)  # its network takes 256 px only
    with torch.no_grad():
        their_fake = torch.softmax(theirs.backbone(clips.flatten(0, 1)), 1)[:, 1]
        torch.testing.assert_close(torch.sigmoid(detector(clips)), their_fake)


def test_the_deepfakebench_meso4_map_takes_ddp_prefixes_and_refuses_other_layouts() -> None:
    weight = torch.randn(8, 3, 3, 3)
    renamed = deepfakebench_meso4_to_dfd({"module.backbone.conv1.weight": weight}, nn.Module())
    assert renamed.keys() == {"features.0.0.0.weight", "features.0.0.0.bias"}
    assert torch.equal(renamed["features.0.0.0.bias"], torch.zeros(8))
    inception = {"backbone.Incption1_conv1.weight": torch.randn(1, 3, 1, 1)}
    with pytest.raises(ValueError, match="'backbone.Incption1_conv1.weight' is not a Deepfake"):
        deepfakebench_meso4_to_dfd(inception, nn.Module())


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(PAPER_COUNTS))
def test_mesonet_learns_real_faces_against_their_self_blends(
    tmp_path: Path, learning_task: Path, option: str
) -> None:
    # seen on 2 busy cores: meso4 0.715 -> 0.192, AUC 0.90; meso_inception4 0.696 -> 0.150, 0.78
    config = OmegaConf.to_container(compose_train(tmp_path, f"model={option}").model)
    learned = learn(config, learning_task, steps=300)
    print(option, learned)
    assert learned.last_loss < 0.5 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
