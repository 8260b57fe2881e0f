"""FaceForensics++'s Xception is Xception's architecture (Chollet: 36 convolutions, 34 of them
depthwise separable, in an entry flow, eight middle blocks and an exit flow), composes through
Hydra, runs forward and backward on a real face, loads ImageNet weights from a file made
offline through the same path as online ones, loads a DeepfakeBench Xception checkpoint (a
state dict named as its code names it) with the same scores, and learns the zoo's task."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from dfd.models.weights import deepfakebench_xception_to_dfd
from dfd.models.zoo.xception import Xception
from helpers.deepfakebench import their_fake_probability
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


# DeepfakeBench's Xception blocks (training/networks/xception.py): name, in and out channels,
# separable convolutions, stride, whether the block starts with a ReLU, whether it widens first
DEEPFAKEBENCH_BLOCKS = [
    ("block1", 64, 128, 2, 2, False, True),
    ("block2", 128, 256, 2, 2, True, True),
    ("block3", 256, 728, 2, 2, True, True),
    *[(f"block{i}", 728, 728, 3, 1, True, True) for i in range(4, 12)],
    ("block12", 728, 1024, 2, 2, True, False),
]


def separable(prefix: str, cin: int, cout: int) -> dict[str, tuple]:
    return {
        f"{prefix}.conv1.weight": (cin, 1, 3, 3),
        f"{prefix}.pointwise.weight": (cout, cin, 1, 1),
    }


def batchnorm(prefix: str, channels: int) -> dict[str, tuple]:
    names = ("weight", "bias", "running_mean", "running_var")
    return {f"{prefix}.{n}": (channels,) for n in names} | {f"{prefix}.num_batches_tracked": ()}


def deepfakebench_shapes() -> dict[str, tuple]:
    """The state dict names and shapes of DeepfakeBench's Xception detector as its code builds
    them: the network under `backbone.`, each block's `rep` list counting its ReLUs (and a
    block that starts without one shifting every entry down), two outputs, `adjust_channel`."""
    shapes = {"conv1.weight": (32, 3, 3, 3), **batchnorm("bn1", 32)}
    shapes |= {"conv2.weight": (64, 32, 3, 3), **batchnorm("bn2", 64)}
    for name, cin, cout, reps, stride, relu_first, widen_first in DEEPFAKEBENCH_BLOCKS:
        if cin != cout or stride != 1:
            shapes |= {
                f"{name}.skip.weight": (cout, cin, 1, 1),
                **batchnorm(f"{name}.skipbn", cout),
            }
        if widen_first:
            widths = [(cin, cout)] + [(cout, cout)] * (reps - 1)
        else:
            widths = [(cin, cin)] * (reps - 1) + [(cin, cout)]
        index = 0 if relu_first else -1  # entries: [ReLU], separable, batch norm, ReLU, ...
        for a, b in widths:
            shapes |= separable(f"{name}.rep.{index + 1}", a, b)
            shapes |= batchnorm(f"{name}.rep.{index + 2}", b)
            index += 3
    shapes |= separable("conv3", 1024, 1536) | batchnorm("bn3", 1536)
    shapes |= separable("conv4", 1536, 2048) | batchnorm("bn4", 2048)
    shapes |= {"last_linear.weight": (2, 2048), "last_linear.bias": (2,)}
    shapes |= {"adjust_channel.0.weight": (512, 2048, 1, 1), "adjust_channel.0.bias": (512,)}
    shapes |= batchnorm("adjust_channel.1", 512)
    return {f"backbone.{key}": shape for key, shape in shapes.items()}


def random_state(shapes: dict[str, tuple]) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape) + 0.5
        else:
            state[key] = torch.randn(shape) * 0.05
    return state


def test_a_deepfakebench_checkpoint_loads_with_its_scores(tmp_path: Path) -> None:
    theirs = random_state(deepfakebench_shapes())
    torch.save(theirs, tmp_path / "ckpt_best.pth")
    detector = build(
        tmp_path,
        f"model.detector_weights={tmp_path / 'ckpt_best.pth'}",
        "model.key_map=deepfakebench_xception",
    ).eval()
    ours = detector.state_dict()
    network = [k for k in theirs if not k.startswith(("backbone.last", "backbone.adjust"))]
    assert all(
        torch.equal(ours["backbone.model." + k.removeprefix("backbone.")], theirs[k])
        for k in network
    )
    clips = face_clips(64, clip_len=1)
    their_fake = their_fake_probability(
        detector.backbone,
        clips,
        theirs["backbone.last_linear.weight"],
        theirs["backbone.last_linear.bias"],
    )
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(detector(clips)), their_fake)


def test_the_deepfakebench_map_takes_ddp_prefixes_and_refuses_other_layouts() -> None:
    theirs = random_state({"backbone.conv1.weight": (32, 3, 3, 3)})
    ddp = {f"module.{key}": value for key, value in theirs.items()}
    assert list(deepfakebench_xception_to_dfd(ddp, nn.Module())) == ["backbone.model.conv1.weight"]
    with pytest.raises(ValueError, match="'conv1.weight' is not a DeepfakeBench Xception key"):
        deepfakebench_xception_to_dfd(
            {"conv1.weight": theirs["backbone.conv1.weight"]}, nn.Module()
        )


@pytest.mark.slow
def test_xception_learns_real_faces_against_their_self_blends(
    tmp_path: Path, learning_task: Path
) -> None:
    config = OmegaConf.to_container(compose_train(tmp_path, "model=xception").model)
    learned = learn(config, learning_task, steps=150)
    print("xception", learned)
    assert learned.last_loss < 0.6 * learned.first_loss, learned
    assert learned.val_auc >= 0.6, learned  # the bar of helpers/learning.py
